/**
 * Scenario (runs INSIDE a loopback-only namespace): a real iroh node dials quic-peer's
 * Connection (server role, over the minimal UDP driver), which echoes every bidi stream; iroh
 * closes with an application code and reason that quic-peer must report.
 *
 *   args: [alpn] [payloadBytes]
 *   prints: { dial: iroh's result line, serverAlpn, peerKey, closeInfo, stats, serverEvents }
 */
import { assertIsolated } from '../netns.js';
import { emitResult, runIrohNode } from '../iroh.js';
import { MiniPeer } from '../mini-driver.js';
import { CryptoRandom } from '../../../src/tls/random.js';
import { EndpointId, generateSecretKey } from '../../../src/tls/identity.js';
import { toHex } from '../../../src/quic/codec/bytes.js';

assertIsolated();

const alpn = process.argv[2] ?? 'quic-peer/interop-echo';
const size = Number(process.argv[3] ?? 1000);
const random = new CryptoRandom();
const secretKey = generateSecretKey(random);
const ourId = EndpointId.fromSecretKey(secretKey);
const server = await MiniPeer.listen((initialDcid, clientScid) => ({
  role: 'server',
  random,
  resetToken: () => random.fill(new Uint8Array(16)),
  initialDcid,
  clientScid,
  tls: { secretKey, certificateType: 'rawPublicKey', alpnProtocols: [alpn] },
}));
// Echo: read each accepted bidi stream to its end, then write it back and finish.
const pending = new Map<number, Uint8Array[]>();
const outgoing: Array<{ id: number; data: Uint8Array; off: number }> = [];
server.onTurn = () => {
  if (!server.hasConnection) return;
  const c = server.conn;
  for (let id = c.acceptStream('bidi'); id !== null; id = c.acceptStream('bidi')) pending.set(id, []);
  for (const [id, chunks] of pending) {
    const recv = c.streams.get(id)?.recv;
    if (!recv) continue;
    for (let d = recv.read(); d !== null; d = recv.read()) chunks.push(d);
    if (recv.ended) {
      pending.delete(id);
      const total = chunks.reduce((n, d) => n + d.length, 0);
      const data = new Uint8Array(total);
      let o = 0;
      for (const d of chunks) {
        data.set(d, o);
        o += d.length;
      }
      outgoing.push({ id, data, off: 0 });
    }
  }
  for (const out of outgoing) {
    while (out.off < out.data.length) {
      const n = c.writeStream(out.id, out.data.subarray(out.off));
      if (n === 0) break;
      out.off += n;
    }
    if (out.off === out.data.length) {
      c.finishStream(out.id);
      outgoing.splice(outgoing.indexOf(out), 1);
    }
  }
};
try {
  const payload = random.fill(new Uint8Array(size));
  const dial = await runIrohNode(
    ['dial', '--id', ourId.toString(), '--addr', server.address, '--alpn', alpn, '--stdin', '--close-code', '42', '--close-reason', 'bye'],
    { input: payload, timeoutMs: 30_000 },
  );
  if (server.hasConnection) await server.until(() => server.conn.isClosed, 5_000, 'the close from iroh').catch(() => undefined);
  emitResult({
    dial: dial.events.find((e) => e.event === 'result') ?? null,
    dialStderr: dial.stderr.slice(-1500),
    serverAlpn: server.hasConnection ? server.conn.alpn : null,
    peerKey: server.hasConnection ? toHex(server.conn.peerPublicKey ?? new Uint8Array(0)) : null,
    closeInfo: server.hasConnection ? server.conn.closeInfo : null,
    stats: server.hasConnection ? server.conn.getStats() : null,
    serverEvents: server.hasConnection ? server.events.map((e) => e.type) : [],
  });
} finally {
  server.close();
}
