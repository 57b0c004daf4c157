/**
 * Scenario (runs INSIDE a loopback-only namespace): quic-peer's Connection, over a minimal UDP
 * driver, dials a real iroh echo node, echoes a message over a bidi stream, and closes with an
 * application code and reason that iroh must report.
 *
 *   args: [alpn] [payloadBytes]
 *   prints: { ok, alpn, serverId, peerKey, echoed (hex of sha of data equality), stats, irohEvents }
 */
import { assertIsolated } from '../netns.js';
import { emitResult, startIrohNode } from '../iroh.js';
import { MiniPeer } from '../mini-driver.js';
import { CryptoRandom } from '../../../src/tls/random.js';
import { EndpointId, generateSecretKey } from '../../../src/tls/identity.js';
import { bytesEqual, concatBytes, toHex } from '../../../src/quic/codec/bytes.js';

assertIsolated();

const alpn = process.argv[2] ?? 'quic-peer/interop-echo';
const size = Number(process.argv[3] ?? 1000);
const random = new CryptoRandom();
const server = startIrohNode(['echo', '--alpn', alpn, '--bind', '127.0.0.1:0', '--timeout-ms', '60000']);
let client: MiniPeer | undefined;
try {
  const ready = await server.ready;
  const addr = ready.addrs.find((a) => a.startsWith('127.0.0.1:'))!;
  const serverId = EndpointId.parse(ready.id);
  client = await MiniPeer.connect(
    {
      role: 'client',
      random,
      resetToken: () => random.fill(new Uint8Array(16)),
      tls: { secretKey: generateSecretKey(random), certificateType: 'rawPublicKey', alpnProtocols: [alpn], expectedPeerKey: serverId.bytes },
    },
    addr,
  );
  const c = client;
  await c.until(() => c.conn.isConnected || c.conn.isClosed, 10_000, 'the handshake');
  if (!c.conn.isConnected) throw new Error(`handshake failed: ${JSON.stringify(c.conn.closeInfo)}`);
  const data = random.fill(new Uint8Array(size));
  const id = c.conn.openStream('bidi')!;
  let off = 0;
  const chunks: Uint8Array[] = [];
  let ended = false;
  const pump = (): void => {
    while (off < data.length) {
      const n = c.conn.writeStream(id, data.subarray(off));
      if (n === 0) break;
      off += n;
    }
    if (off === data.length) {
      try { c.conn.finishStream(id); } catch { /* already finished */ }
    }
    const recv = c.conn.streams.get(id)?.recv;
    if (!recv) { ended = true; return; }
    for (let d = recv.read(); d !== null; d = recv.read()) chunks.push(d);
    if (recv.ended) ended = true;
  };
  c.onTurn = pump;
  c.service();
  await c.until(() => ended || c.conn.isClosed, 20_000, 'the echo');
  c.onTurn = undefined;
  const echoed = concatBytes(...chunks);
  c.conn.close(c.now(), 7, 'done');
  c.service();
  await server.waitFor((e) => e.event === 'closed', 5_000).catch(() => undefined);
  emitResult({
    ok: bytesEqual(echoed, data),
    echoedBytes: echoed.length,
    alpn: c.conn.alpn,
    serverId: ready.id,
    peerKey: toHex(c.conn.peerPublicKey ?? new Uint8Array(0)),
    stats: c.conn.getStats(),
    peerParams: c.conn.peerTransportParameters ? { ...c.conn.peerTransportParameters, originalDestinationConnectionId: null, initialSourceConnectionId: null, statelessResetToken: null } : null,
    clientEvents: c.events.map((e) => e.type),
    irohEvents: server.events.filter((e) => e.event !== 'ready'),
  });
} finally {
  client?.close();
  await server.stop().catch(() => undefined);
  server.child.kill('SIGKILL');
}
