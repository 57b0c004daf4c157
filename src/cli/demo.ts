/**
 * `quic-peer demo`: shows, in one process, what the library does today. It runs the TLS 1.3
 * handshake between a quic-peer client and server with Ed25519 raw public keys (exactly the
 * messages iroh exchanges), derives the QUIC packet protection keys from its secrets, and
 * protects and opens 1-RTT packets with them, timing each step.
 *
 * As the connection and the UDP endpoint land, this grows into the full loopback demo (issue #4).
 */
import { performance } from 'node:perf_hooks';
import { CryptoRandom, EndpointId, Level, TlsClient, TlsServer, generateSecretKey, cipherSuite } from '../tls/index.js';
import type { TlsEngine, TlsEvent } from '../tls/index.js';
import { deriveDirectionalKeys } from '../quic/crypto/index.js';
import { Writer } from '../quic/codec/writer.js';
import { sealPacket, openPacket } from '../quic/packet/protection.js';
import { parsePacketHeader, writeShortHeader } from '../quic/packet/header.js';

const HELP = `quic-peer demo: an in-process tour of quic-peer

Usage: quic-peer demo [--handshakes N] [--packets N]

  --handshakes N   TLS 1.3 raw-public-key handshakes to time (default 200)
  --packets N      1-RTT packets of 1200 bytes to protect and open (default 20000)`;

export async function runDemo(args: string[]): Promise<number> {
  let handshakes = 200;
  let packets = 20000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const v = Number(args[i + 1]);
    if ((a === '--handshakes' || a === '--packets') && Number.isSafeInteger(v) && v > 0) {
      if (a === '--handshakes') handshakes = v;
      else packets = v;
      i++;
      continue;
    }
    process.stderr.write(`quic-peer demo: bad argument '${a}'\n\n${HELP}\n`);
    return 2;
  }

  const random = new CryptoRandom();
  const serverKey = generateSecretKey(random);
  const clientKey = generateSecretKey(random);
  const serverId = EndpointId.fromSecretKey(serverKey);
  const clientId = EndpointId.fromSecretKey(clientKey);
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  out('quic-peer demo');
  out(`  server id  ${serverId.toString()}`);
  out(`  client id  ${clientId.toString()}`);

  // One handshake in detail.
  const first = handshake(serverKey, clientKey, serverId.bytes, random);
  out(`\nTLS 1.3 handshake, Ed25519 raw public keys both ways, ALPN ${first.alpn}`);
  out(`  cipher suite       ${first.suite}`);
  out(`  server saw client  ${EndpointId.fromBytes(first.serverSawClient).toString()}`);
  out(`  flights (bytes)    ClientHello ${first.sizes[0]}, server flight ${first.sizes[1]}, client flight ${first.sizes[2]}`);

  const t0 = performance.now();
  for (let i = 0; i < handshakes; i++) handshake(serverKey, clientKey, serverId.bytes, random);
  const hsMs = (performance.now() - t0) / handshakes;
  out(`  ${handshakes} handshakes: ${hsMs.toFixed(2)} ms each (both sides, in memory)`);

  // Packet protection with the negotiated 1-RTT keys.
  const suite = cipherSuite(first.suiteId);
  const write = deriveDirectionalKeys(suite, first.clientWriteSecret);
  const read = deriveDirectionalKeys(suite, first.clientWriteSecret);
  const dcid = random.fill(new Uint8Array(8));
  const buf = new Uint8Array(1452);
  const payload = random.fill(new Uint8Array(1200));
  const t1 = performance.now();
  let bytes = 0;
  for (let pn = 0; pn < packets; pn++) {
    const w = new Writer(buf);
    const marks = writeShortHeader(w, dcid, pn, 2, 0);
    w.bytesOf(payload);
    const end = sealPacket(w, marks, pn, write);
    const h = parsePacketHeader(buf, 0, dcid.length, end);
    if (h.kind !== 'short') throw new Error('expected a short header');
    const opened = openPacket(buf, h, read.header, read.packet, pn - 1);
    if (!opened) throw new Error(`packet ${pn} failed to open`);
    bytes += payload.length;
  }
  const secs = (performance.now() - t1) / 1000;
  out(`\n1-RTT packet protection (${suite.name}), seal + header protection + open`);
  out(`  ${packets} packets of ${payload.length} bytes: ${((bytes * 8) / secs / 1e6).toFixed(0)} Mbit/s, ${(packets / secs / 1000).toFixed(1)} k packets/s`);
  out('\nNext: the QUIC connection, the UDP endpoint and the Session API (see the README).');
  return 0;
}

interface HandshakeResult {
  alpn: string;
  suite: string;
  suiteId: number;
  serverSawClient: Uint8Array;
  sizes: [number, number, number];
  clientWriteSecret: Uint8Array;
}

/** Runs one in-memory handshake, moving bytes between the engines level by level. */
function handshake(serverKey: Uint8Array, clientKey: Uint8Array, serverId: Uint8Array, random: CryptoRandom): HandshakeResult {
  const alpnProtocols = ['iroh-http/2-duplex'];
  const client = new TlsClient({
    secretKey: clientKey, certificateType: 'rawPublicKey', alpnProtocols, random,
    transportParameters: new Uint8Array([0x0f, 0x00]), expectedPeerKey: serverId,
  });
  const server = new TlsServer({
    secretKey: serverKey, certificateType: 'rawPublicKey', alpnProtocols, random,
    transportParameters: new Uint8Array([0x0f, 0x00]),
  });
  const sizes: [number, number, number] = [0, 0, 0];
  let clientWriteSecret: Uint8Array | undefined;
  client.start();
  let flight = 0;
  for (let round = 0; round < 4 && !(client.handshakeComplete && server.handshakeComplete); round++) {
    const fromClient = drain(client, (e) => {
      if (e.kind === 'writeSecret' && e.level === Level.Application) clientWriteSecret = e.secret;
    });
    if (fromClient.length) sizes[flight === 0 ? 0 : 2] += fromClient.reduce((n, [, d]) => n + d.length, 0);
    for (const [level, data] of fromClient) server.handleData(level, data);
    const fromServer = drain(server, () => {});
    if (fromServer.length) sizes[1] += fromServer.reduce((n, [, d]) => n + d.length, 0);
    for (const [level, data] of fromServer) client.handleData(level, data);
    flight++;
  }
  drain(client, (e) => {
    if (e.kind === 'writeSecret' && e.level === Level.Application) clientWriteSecret = e.secret;
  });
  if (!client.handshakeComplete || !server.handshakeComplete || !clientWriteSecret) throw new Error('handshake did not complete');
  return {
    alpn: client.alpn ?? '',
    suite: client.suite?.name ?? '',
    suiteId: client.suite?.id ?? 0,
    serverSawClient: server.peerPublicKey ?? new Uint8Array(0),
    sizes,
    clientWriteSecret,
  };
}

function drain(engine: TlsEngine, onEvent: (e: TlsEvent) => void): Array<[Level, Uint8Array]> {
  const out: Array<[Level, Uint8Array]> = [];
  for (let e = engine.pollEvent(); e; e = engine.pollEvent()) {
    onEvent(e);
    if (e.kind === 'writeData') out.push([e.level, e.data]);
  }
  return out;
}
