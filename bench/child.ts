/**
 * The benchmark's child processes (`node build/bench/child.js ROLE [ARG]`), so that the measured
 * server side runs on its own core. Every child prints one JSON line `{"ready":...}` once it
 * listens, then serves until its stdin ends or its hard deadline passes (it never outlives the
 * parent). Roles:
 *
 *   quic-server [RELAY]   a quic-peer Endpoint on 127.0.0.1:0 (ALPN bench/1), with RELAY (a relay URL)
 *                         as its home relay when given (ready once connected to it). Per bidi stream, the
 *                         first byte says what to do: 'B' read to the end with a BYOB reader into
 *                         one 64 KiB buffer, answer the byte count (8 bytes) and finish; 'b' the same
 *                         with a default reader (a fresh chunk per read); 'E' echo every chunk; 'D' answer the number of
 *                         datagrams this session received so far; 'G' answer this process's
 *                         garbage collections so far (bench/gc-count.ts, JSON).
 *   quic-server-jumbo     the same without relay, with transport.maxUdpPayloadSize 65527 (bulk_jumbo_mbps).
 *   pipeline-recv SECRET  a bare UDP socket: removes header protection and opens AES-128-GCM short
 *                         header packets sealed with the 1-RTT keys derived from SECRET (hex);
 *                         on a 3-byte "END" datagram prints {bytes, packets, failed, spanMs}.
 *   tls-server            node:tls over TCP on 127.0.0.1:0, Ed25519 X.509 certificate: per
 *                         connection, counts bytes to the end and answers the count (8 bytes).
 *   heap N [MP]           --expose-gc: client and server Endpoint in this one process, opens N idle
 *                         sessions and prints {heapPerConn, before, after, n} (MP: as heap-server's).
 *   heap-server [MP]      --expose-gc: a server Endpoint alone (the parent dials; MP: 'multipath' or
 *                         'no-multipath' sets transport.multipath, else the default): on the stdin
 *                         line "base [SNAPSHOT]" it records heapUsed after gc and prints {base}; on
 *                         "measure N [SNAPSHOT]" it prints {heapPerConn, before, after, sessions} for
 *                         the N sessions dialled since: what a server holds per idle connection.
 *                         With SNAPSHOT (a file path) it also writes a V8 heap snapshot there after
 *                         the measurement (bench/heap-idle.ts, bench/heap-diff.ts).
 */
import { createSocket } from 'node:dgram';
import { createServer as createTlsServer } from 'node:tls';
import { writeHeapSnapshot } from 'node:v8';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import type { BidirectionalStream } from '../src/session/session.js';
import { cipherSuite, TLS_AES_128_GCM_SHA256 } from '../src/tls/suites.js';
import { deriveDirectionalKeys } from '../src/quic/crypto/keys.js';
import { unprotectHeader } from '../src/quic/crypto/header-protection.js';
import { fromHex } from '../src/codec/bytes.js';
import { makeIdentity } from '../test/tls-openssl/certs.js';
import { BENCH_ALPN, JUMBO_TRANSPORT, PIPE_DCID_LEN, PIPE_PN_LEN } from './common.js';
import { gcCounts } from './gc-count.js';

/** A child never lives longer than this, whatever the parent does. */
const HARD_DEADLINE_MS = 10 * 60_000;

function emit(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

async function serveStream(s: BidirectionalStream, datagrams: () => number): Promise<void> {
  const writer = s.writable.getWriter();
  // The first byte says what to do; 'B' counts the rest with a BYOB reader into one buffer (no
  // allocation per read, as a throughput-minded receiver reads), the others with a default reader.
  const byob = s.readable.getReader({ mode: 'byob' });
  const first = await byob.read(new Uint8Array(1));
  const mode = first.done ? 0 : first.value[0]!;
  let count = 0;
  if (mode === 0x42 /* B */) {
    let buf = new ArrayBuffer(64 * 1024);
    for (;;) {
      const { value, done } = await byob.read(new Uint8Array(buf));
      if (done) break;
      count += value.byteLength;
      buf = value.buffer as ArrayBuffer;
    }
  } else if (!first.done) {
    byob.releaseLock();
    const reader = s.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (mode === 0x45 /* E */ && value.length > 0) await writer.write(value.slice());
      count += value.length;
    }
  }
  if (mode === 0x42 /* B */ || mode === 0x62 /* b */) await writer.write(u64(count));
  else if (mode === 0x44 /* D */) await writer.write(u64(datagrams()));
  else if (mode === 0x47 /* G */) await writer.write(new TextEncoder().encode(JSON.stringify(gcCounts())));
  await writer.close();
}

async function serveSession(session: Session): Promise<void> {
  let datagrams = 0;
  void (async () => {
    for (let d = await session.recvDatagram(); d !== null; d = await session.recvDatagram()) datagrams++;
  })().catch(() => {});
  for (;;) {
    const s = await session.nextBidiStream();
    if (s === null) return;
    void serveStream(s, () => datagrams).catch(() => {});
  }
}

async function quicServer(relay: string, jumbo = false): Promise<() => Promise<void>> {
  gcCounts(); // counts from here on, for the 'G' streams
  const ep = await Endpoint.bind({
    bind: '127.0.0.1:0',
    alpns: [BENCH_ALPN],
    retry: 'never',
    maxHandshakes: 1024,
    ...(relay ? { relays: [relay] } : {}),
    ...(jumbo ? { transport: JUMBO_TRANSPORT } : {}),
  });
  if (relay) await ep.online({ timeoutMs: 10_000 });
  void (async () => {
    for (let s = await Session.accept(ep); s !== null; s = await Session.accept(ep)) void serveSession(s).catch(() => {});
  })().catch(() => {});
  emit({ ready: true, ticket: ep.ticket() });
  return () => ep.close();
}

function pipelineRecv(secretHex: string): () => Promise<void> {
  const keys = deriveDirectionalKeys(cipherSuite(TLS_AES_128_GCM_SHA256), fromHex(secretHex));
  const sock = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  let bytes = 0;
  let packets = 0;
  let failed = 0;
  let first = 0;
  let last = 0;
  const pnOffset = 1 + PIPE_DCID_LEN;
  sock.on('message', (msg: Buffer) => {
    if (msg.length === 3) {
      emit({ bytes, packets, failed, spanMs: last - first });
      bytes = packets = failed = 0;
      return;
    }
    const pnLen = unprotectHeader(msg, 0, pnOffset, msg.length, keys.header);
    if (pnLen !== PIPE_PN_LEN) {
      failed++;
      return;
    }
    const pn = msg.readUInt32BE(pnOffset);
    const plain = keys.packet.open(pn, msg, 0, pnOffset + pnLen, msg.length);
    if (plain === null) {
      failed++;
      return;
    }
    const t = performance.now();
    if (packets === 0) first = t;
    last = t;
    packets++;
    bytes += plain.length;
  });
  sock.bind(0, '127.0.0.1', () => emit({ ready: true, port: sock.address().port }));
  return async () => void sock.close();
}

async function tlsServer(): Promise<() => Promise<void>> {
  const id = await makeIdentity('bench.local');
  const server = createTlsServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3' }, (sock) => {
    let count = 0;
    sock.on('data', (b: Buffer) => (count += b.length));
    sock.on('end', () => sock.end(u64(count)));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  emit({ ready: true, port: typeof addr === 'object' && addr !== null ? addr.port : 0, certPem: id.certPem });
  return async () => void server.close();
}

async function heap(n: number, mode: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('heap: run with --expose-gc');
  const transport = multipathOption(mode);
  const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: [BENCH_ALPN], retry: 'never', maxHandshakes: 1024, ...(transport && { transport }) });
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: false, ...(transport && { transport }) });
  const held: Session[] = [];
  void (async () => {
    for (let s = await Session.accept(server); s !== null; s = await Session.accept(server)) held.push(s);
  })().catch(() => {});
  const target = server.ticket();
  const dial = (): Promise<Session> => Session.connect(client, target, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
  // Warm up (code paths, JIT, pools) before the baseline.
  for (const s of await Promise.all(Array.from({ length: 8 }, dial))) held.push(s);
  await new Promise((r) => setTimeout(r, 200));
  const warm = held.length;
  gc();
  const before = process.memoryUsage().heapUsed;
  const clients: Session[] = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all(Array.from({ length: Math.min(32, n - i) }, dial));
    clients.push(...batch);
  }
  // Let the server side settle (accepted sessions, handshake confirmation, ACKs).
  await new Promise((r) => setTimeout(r, 300));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  emit({ heapPerConn: (after - before) / n, before, after, n, serverSessions: held.length - warm, clients: clients.length });
  await client.close();
  await server.close();
}

async function heapServer(mode: string): Promise<() => Promise<void>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('heap-server: run with --expose-gc');
  const transport = multipathOption(mode);
  const ep = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: [BENCH_ALPN], retry: 'never', maxHandshakes: 1024, ...(transport && { transport }) });
  const held: Session[] = [];
  void (async () => {
    for (let s = await Session.accept(ep); s !== null; s = await Session.accept(ep)) held.push(s);
  })().catch(() => {});
  let before = 0;
  let heldBefore = 0;
  let buf = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const [cmd, arg, arg2] = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 1);
      void (async () => {
        // Let the last handshakes settle (confirmation, ACKs, NEW_CONNECTION_IDs) first.
        await new Promise((r) => setTimeout(r, 300));
        gc();
        gc();
        const used = process.memoryUsage().heapUsed;
        if (cmd === 'base') {
          before = used;
          heldBefore = held.length;
          if (arg) writeHeapSnapshot(arg);
          emit({ base: used, sessions: held.length });
        } else if (cmd === 'measure') {
          const n = Number(arg);
          if (arg2) writeHeapSnapshot(arg2);
          emit({ heapPerConn: (used - before) / n, before, after: used, n, sessions: held.length - heldBefore });
        }
      })();
    }
  });
  emit({ ready: true, ticket: ep.ticket() });
  return () => ep.close();
}

/** The transport option of a heap child's MP argument (both ends of `heap`): multipath on, off, or the default (undefined). */
function multipathOption(mode: string): { multipath: boolean } | undefined {
  if (mode === 'multipath') return { multipath: true };
  if (mode === 'no-multipath') return { multipath: false };
  if (mode !== '') throw new Error(`heap child: unknown argument ${mode} (multipath, no-multipath)`);
  return undefined;
}

async function main(): Promise<void> {
  const role = process.argv[2];
  const arg = process.argv[3] ?? '';
  const deadline = setTimeout(() => process.exit(2), HARD_DEADLINE_MS);
  deadline.unref();
  let stop: () => Promise<void>;
  switch (role) {
    case 'quic-server':
      stop = await quicServer(arg);
      break;
    case 'quic-server-jumbo':
      stop = await quicServer('', true);
      break;
    case 'pipeline-recv':
      stop = pipelineRecv(arg);
      break;
    case 'tls-server':
      stop = await tlsServer();
      break;
    case 'heap-server':
      stop = await heapServer(arg);
      break;
    case 'heap':
      await heap(Number(arg), process.argv[4] ?? '');
      process.exit(0);
      return;
    default:
      throw new Error(`unknown role ${String(role)}`);
  }
  process.stdin.resume();
  process.stdin.on('end', () => {
    void stop().finally(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
