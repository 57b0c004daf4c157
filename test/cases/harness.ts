/**
 * Runs one interop-runner-style case: a quic-peer server that serves files, the impairing relay
 * in front of it (test/relay), and a quic-peer client that downloads the files over one or more
 * connections through the relay, all on loopback, through the public Endpoint/Session API.
 *
 * The "hq-interop"-like protocol: the client opens a bidirectional stream per file, writes the
 * file's name and finishes; the server answers with the file's bytes and finishes. The client
 * checks every file byte for byte (SHA-256 against the server's copy).
 *
 * What the runner reads from its pcap and the endpoints' logs is recorded here: every packet the
 * relay saw (its header bytes, with the direction, stage and time), the key log secrets, and the
 * qlog files of both endpoints (when the case asks for them).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Endpoint, type EndpointOptions } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import type { ConnectionStats } from '../../src/quic/connection/connection.js';
import type { TransportOptions } from '../../src/quic/endpoint/endpoint-core.js';
import { SeededRandom } from '../../src/tls/random.js';
import { KeyLogSecrets } from '../interop/wire.js';
import { ImpairingRelay, type RelayOptions, type TapEvent } from '../relay/relay.js';

export const ALPN = 'hq-interop';

export interface CaseSetup {
  /** The relay's scenario (link, impairments, blackhole, rebind). */
  readonly relay: Omit<RelayOptions, 'server' | 'tap' | 'seed'>;
  /** File sizes downloaded on each connection (all of a connection's files concurrently). */
  readonly files: readonly number[];
  /** Connections made one after another (default 1); `concurrency` of them at a time. */
  readonly connections?: number;
  readonly concurrency?: number;
  readonly ipv6?: boolean;
  readonly server?: { readonly transport?: TransportOptions; readonly retry?: EndpointOptions['retry'] };
  readonly client?: { readonly transport?: TransportOptions };
  /** Write qlog files of both endpoints (for cases that read protocol facts from them). */
  readonly qlog?: boolean;
  /** Give up after this long (the case fails). */
  readonly timeoutMs: number;
  /** Dial timeout per connection (default 20 s). */
  readonly dialTimeoutMs?: number;
}

/** One packet as the relay saw it: its first bytes (whole when a long header), size, where and when. */
export interface TracedPacket {
  readonly dir: TapEvent['dir'];
  readonly stage: TapEvent['stage'];
  readonly reason?: TapEvent['reason'];
  readonly ms: number;
  readonly size: number;
  readonly head: Uint8Array;
  readonly path: string;
}

export interface QlogTrace {
  readonly role: 'client' | 'server';
  readonly file: string;
  readonly events: Array<{ time: number; name: string; data: Record<string, unknown> }>;
}

export interface CaseOutcome {
  /** Failures of the transfer itself (connect errors, wrong bytes, timeout). */
  readonly errors: string[];
  readonly filesOk: number;
  readonly filesExpected: number;
  readonly bytes: number;
  readonly ms: number;
  readonly trace: TracedPacket[];
  readonly relay: ImpairingRelay;
  readonly keylog: KeyLogSecrets;
  readonly qlogs: QlogTrace[];
  /** Stats of every client session, and of the server sessions, at the end of each. */
  readonly clientStats: ConnectionStats[];
  readonly serverStats: ConnectionStats[];
  /** Remote addresses the server's sessions had at their end. */
  readonly serverSawClientAt: string[];
}

/** Deterministic file contents: the same seed and index give the same bytes. */
export function fileBytes(seed: number, index: number, size: number): Uint8Array {
  return new SeededRandom((seed * 7919 + index) >>> 0).fill(new Uint8Array(size));
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function runCase(setup: CaseSetup, seed: number): Promise<CaseOutcome> {
  const t0 = performance.now();
  const errors: string[] = [];
  const keylog = new KeyLogSecrets();
  const qdir = setup.qlog ? mkdtempSync(join(tmpdir(), 'qp-case-')) : undefined;
  const host = setup.ipv6 ? '[::1]:0' : '127.0.0.1:0';
  const rng = new SeededRandom(seed);
  const secret = (): Uint8Array => rng.fill(new Uint8Array(32));

  // The server's files, by name.
  const served = new Map<string, { bytes: Uint8Array; hash: string }>();
  setup.files.forEach((size, i) => {
    const bytes = fileBytes(seed, i, size);
    served.set(`/f${i}`, { bytes, hash: sha256(bytes) });
  });

  const server = await Endpoint.bind({
    secretKey: secret(),
    alpns: [ALPN],
    bind: host,
    // The runner's cases are RFC 9000 cases through its network simulator, which every packet
    // must cross: no multipath (on by default), whose NAT traversal would find the server's own
    // address on loopback and go around the impairing relay.
    transport: { multipath: false, ...setup.server?.transport },
    retry: setup.server?.retry ?? 'never',
    ...(qdir ? { qlogDir: join(qdir, 'server') } : {}),
  });
  const trace: TracedPacket[] = [];
  const relay = await ImpairingRelay.start({
    ...setup.relay,
    seed,
    server: server.boundAddresses[0] as string,
    tap: (e) => {
      const long = ((e.bytes[0] ?? 0) & 0x80) !== 0;
      trace.push({
        dir: e.dir,
        stage: e.stage,
        ...(e.reason ? { reason: e.reason } : {}),
        ms: e.ms,
        size: e.bytes.length,
        head: e.bytes.slice(0, long ? e.bytes.length : 64),
        path: e.path,
      });
    },
  });
  const client = await Endpoint.bind({
    secretKey: secret(),
    bind: host,
    acceptIncoming: false,
    keylog: keylog.logger,
    dialTimeoutMs: setup.dialTimeoutMs ?? 20_000,
    transport: { multipath: false, ...setup.client?.transport },
    ...(qdir ? { qlogDir: join(qdir, 'client') } : {}),
  });

  const serverStats: ConnectionStats[] = [];
  const serverSawClientAt: string[] = [];
  const serving = serve(server, served, serverStats, serverSawClientAt);

  let filesOk = 0;
  let bytes = 0;
  const clientStats: ConnectionStats[] = [];
  const connections = setup.connections ?? 1;
  const one = async (c: number): Promise<void> => {
    let s: Session;
    try {
      s = await Session.connect(client, `${server.id.toString()}@${relay.addr}`, { alpn: ALPN });
    } catch (e) {
      errors.push(`connection ${c}: ${(e as Error).message}`);
      return;
    }
    await Promise.all(
      [...served.entries()].map(async ([name, f]) => {
        try {
          const st = await s.createBidirectionalStream();
          const w = st.writable.getWriter();
          await w.write(new TextEncoder().encode(name));
          await w.close();
          const got = await readAll(st.readable);
          if (got.length !== f.bytes.length || sha256(got) !== f.hash) {
            errors.push(`connection ${c} ${name}: ${got.length} bytes, want ${f.bytes.length}${got.length === f.bytes.length ? ' (hash differs)' : ''}`);
          } else {
            filesOk++;
            bytes += got.length;
          }
        } catch (e) {
          errors.push(`connection ${c} ${name}: ${(e as Error).message}`);
        }
      }),
    );
    clientStats.push(s.getStats());
    s.close(0, 'done');
  };
  const work = (async (): Promise<void> => {
    let next = 0;
    const lanes = Array.from({ length: Math.min(setup.concurrency ?? 1, connections) }, async () => {
      while (next < connections) await one(next++);
    });
    await Promise.all(lanes);
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), setup.timeoutMs);
  });
  if ((await Promise.race([work, timedOut])) === 'timeout') errors.push(`not done within ${setup.timeoutMs} ms`);
  clearTimeout(timer);
  const ms = performance.now() - t0;

  // Both ends close at once (each bounded by the endpoint's own 3 s limit on closing periods).
  await Promise.all([client.close(), server.close()]);
  await serving;
  relay.close();
  const qlogs = qdir ? readQlogs(qdir) : [];
  if (qdir) rmSync(qdir, { recursive: true, force: true });
  return { errors, filesOk, filesExpected: connections * setup.files.length, bytes, ms, trace, relay, keylog, qlogs, clientStats, serverStats, serverSawClientAt };
}

/** The server: every session, every stream: read a file name, answer with the file. */
async function serve(server: Endpoint, files: Map<string, { bytes: Uint8Array }>, stats: ConnectionStats[], seen: string[]): Promise<void> {
  const sessions: Promise<void>[] = [];
  for (let s = await Session.accept(server); s; s = await Session.accept(server)) {
    const session = s;
    sessions.push(
      (async () => {
        const streams: Promise<void>[] = [];
        for (let st = await session.nextBidiStream(); st; st = await session.nextBidiStream()) {
          const stream = st;
          streams.push(
            (async () => {
              const name = new TextDecoder().decode(await readAll(stream.readable));
              const f = files.get(name);
              const w = stream.writable.getWriter();
              if (f) for (let off = 0; off < f.bytes.length; off += 64 * 1024) await w.write(f.bytes.subarray(off, off + 64 * 1024));
              await w.close();
            })().catch(() => {}),
          );
        }
        await Promise.all(streams);
        stats.push(session.getStats());
        const addr = session.remoteAddress;
        if (addr) seen.push(addr);
      })(),
    );
  }
  await Promise.all(sessions);
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = r.getReader();
  for (let x = await reader.read(); !x.done; x = await reader.read()) {
    chunks.push(x.value);
    n += x.value.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function readQlogs(dir: string): QlogTrace[] {
  const out: QlogTrace[] = [];
  for (const role of ['client', 'server'] as const) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, role));
    } catch {
      continue;
    }
    for (const n of names) {
      const records = readFileSync(join(dir, role, n), 'utf8').split('\x1e').filter((r) => r.trim().length > 0);
      const events: QlogTrace['events'] = [];
      for (const r of records.slice(1)) {
        try {
          events.push(JSON.parse(r) as QlogTrace['events'][number]);
        } catch {
          // A truncated last record (should not happen: the files are closed with the endpoint).
        }
      }
      out.push({ role, file: n, events });
    }
  }
  return out;
}
