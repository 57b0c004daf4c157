/**
 * The QUIC interop runner's test cases (quic-interop-runner, testcases_quic.py), quic-peer client
 * against quic-peer server over the impairing relay, each checked as the runner checks it: the
 * files byte for byte, the number of handshakes (distinct SCIDs of the server's Initial packets,
 * as the runner's `_count_handshakes`), and the protocol facts the runner reads from its pcap and
 * key log (here: the relay's tap, our key log, and the endpoints' qlog files).
 *
 * Every case has a full variant (the runner's sizes and network) and a quick one for `npm test`
 * (smaller files, fewer connections, shorter periods; the same checks). The network is the
 * runner's simple-p2p link unless said otherwise: 10 Mbit/s, 15 ms one-way, 25-packet queue.
 */
import { TLS_CHACHA20_POLY1305_SHA256 } from '../../src/tls/suites.js';
import type { CaseOutcome, CaseSetup, QlogTrace } from './harness.js';
import { KeyPhaseReader, clientHelloSuites, headers, initialFrames, serverHelloSuite } from './wire.js';
import type { SuiteId } from '../interop/wire.js';

const KB = 1024;
const MB = 1024 * 1024;

export interface CaseVerdict {
  readonly failures: string[];
  /** Facts worth printing (counts, ratios, goodput). */
  readonly notes: string[];
  readonly goodputKbps?: number;
}

export interface InteropCase {
  /** Our name, and the interop runner's (they are the same unless said). */
  readonly name: string;
  readonly runnerName: string;
  /** What is checked, for the table. */
  readonly checks: string;
  /** Why the case cannot run here (then `setup` is not called). */
  readonly unsupported?: string;
  setup(quick: boolean): CaseSetup;
  check(o: CaseOutcome, quick: boolean): CaseVerdict;
}

// ---- facts read from the trace ----

/** The runner's `_count_handshakes`: distinct SCIDs of Initial packets the server sent. */
export function countHandshakes(o: CaseOutcome): number {
  const scids = new Set<string>();
  for (const p of o.trace) {
    if (p.dir !== 'toClient' || p.stage !== 'in') continue;
    for (const h of headers(p.head)) if (h.type === 'initial') scids.add(hex(h.scid));
  }
  return scids.size;
}

/** The first DCID of the client (Initial keys), from its first Initial packet; after a Retry, the latest. */
function clientDcids(o: CaseOutcome): string[] {
  const out: string[] = [];
  for (const p of o.trace) {
    if (p.dir !== 'toServer' || p.stage !== 'in') continue;
    for (const h of headers(p.head)) if (h.type === 'initial' && !out.includes(hex(h.dcid))) out.push(hex(h.dcid));
  }
  return out;
}

/** Files and handshakes: the part of every check the runner shares between cases. */
function basics(o: CaseOutcome, handshakes: number): string[] {
  const f: string[] = [...o.errors.slice(0, 5)];
  if (o.errors.length > 5) f.push(`... ${o.errors.length - 5} more errors`);
  if (o.filesOk !== o.filesExpected) f.push(`files: ${o.filesOk} of ${o.filesExpected} arrived intact`);
  const n = countHandshakes(o);
  if (n !== handshakes) f.push(`expected ${handshakes} handshake(s), saw ${n}`);
  return f;
}

function qlogFrames(q: QlogTrace[], role: 'client' | 'server', event: string, frameType: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const t of q) {
    if (t.role !== role) continue;
    for (const e of t.events) {
      if (e.name !== event) continue;
      for (const fr of (e.data['frames'] as Array<Record<string, unknown>> | undefined) ?? []) if (fr['frame_type'] === frameType) out.push(fr);
    }
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** A transfer case: files, one handshake, nothing else. */
function transferLike(o: CaseOutcome): CaseVerdict {
  return { failures: basics(o, 1), notes: [] };
}

/** The runner's rebind checks (TestCasePortRebinding / TestCaseAddressRebinding). */
function rebindCheck(o: CaseOutcome, mode: 'port' | 'addr'): CaseVerdict {
  const failures = basics(o, 1);
  const notes: string[] = [];
  if (o.relay.rebinds === 0) failures.push('the relay never rebound (transfer too short?)');
  // Where the server sent to: each back-socket address it answered is a path it used.
  const paths = new Set<string>();
  for (const p of o.trace) if (p.dir === 'toClient' && p.stage === 'in' && !p.path.endsWith(':?')) paths.add(p.path);
  const hosts = new Set([...paths].map((p) => p.slice(0, p.lastIndexOf(':'))));
  notes.push(`${o.relay.rebinds} rebinds, server answered ${paths.size} client addresses (${hosts.size} hosts)`);
  if (paths.size <= 1) failures.push('the server used a single path');
  if (mode === 'addr' && hosts.size <= 1) failures.push('the server saw a single client IP address');
  // RFC 9000 §9.3: the server validates each new path with a PATH_CHALLENGE; the client answers
  // every challenge it receives with a PATH_RESPONSE carrying its data (§8.2.2). A challenge the
  // client never received (dropped by the bottleneck queue, or sent by a rebind that came as the
  // client was closing: seen in CI, two challenges sent 33 ms before the close) asks nothing of it.
  const challenges = new Set(qlogFrames(o.qlogs, 'server', 'transport:packet_sent', 'path_challenge').map((f) => String(f['data'])));
  const received = new Set(qlogFrames(o.qlogs, 'client', 'transport:packet_received', 'path_challenge').map((f) => String(f['data'])));
  const responses = new Set(qlogFrames(o.qlogs, 'client', 'transport:packet_sent', 'path_response').map((f) => String(f['data'])));
  const notReceived = [...challenges].filter((c) => !received.has(c)).length;
  notes.push(`server sent ${challenges.size} PATH_CHALLENGE data, client received ${challenges.size - notReceived} and answered ${[...challenges].filter((c) => responses.has(c)).length}`);
  if (challenges.size < paths.size - 1) failures.push(`server sent ${challenges.size} distinct PATH_CHALLENGEs for ${paths.size - 1} new paths`);
  const unanswered = [...challenges].filter((c) => received.has(c) && !responses.has(c));
  const answered = [...challenges].filter((c) => responses.has(c)).length;
  // Every new path but the last (its validation may meet the close) has an answered challenge.
  if (answered < paths.size - 2) failures.push(`the client answered ${answered} PATH_CHALLENGEs for ${paths.size - 1} new paths`);
  if (unanswered.length > 0) {
    failures.push(`PATH_CHALLENGE without a PATH_RESPONSE: ${unanswered.slice(0, 3).join(', ')}`);
    notes.push(...challengeHistory(o.qlogs, unanswered.slice(0, 3)));
  }
  const st = o.serverStats[0] as unknown as Record<string, unknown> | undefined;
  const migration = ['pathChallengesSent', 'pathValidations', 'migrations'].filter((k) => st && k in st).map((k) => `${k} ${String(st?.[k])}`);
  if (migration.length > 0) notes.push(`server stats: ${migration.join(', ')}`);
  return { failures, notes };
}

/**
 * When each unanswered challenge was sent (ms since the server's trace began), and the server's
 * migration events: what a failed rebind check needs to tell a lost challenge from an abandoned
 * validation or one sent as the connection closed.
 */
function challengeHistory(qlogs: QlogTrace[], unanswered: string[]): string[] {
  const out: string[] = [];
  for (const t of qlogs) {
    if (t.role !== 'server') continue;
    const t0 = t.events[0]?.time ?? 0;
    const at = (e: { time: number }): string => (e.time - t0).toFixed(0);
    for (const data of unanswered) {
      const sent = t.events.filter((e) => e.name === 'transport:packet_sent' && ((e.data['frames'] as Array<Record<string, unknown>> | undefined) ?? []).some((f) => f['frame_type'] === 'path_challenge' && f['data'] === data));
      if (sent.length > 0) out.push(`challenge ${data} sent at ${sent.map(at).join(', ')} ms`);
    }
    if (out.length === 0) continue;
    const moves = t.events.filter((e) => e.name === 'connectivity:migration_state_updated').map((e) => `${at(e)} ${String(e.data['new'])} ${JSON.stringify(e.data['path_remote'])}`);
    out.push(`server migration events: ${moves.join('; ')}; trace ends at ${at(t.events[t.events.length - 1] ?? { time: t0 })} ms`);
  }
  return out;
}

/**
 * Handshakes at 30% loss or corruption: the handshake timeout (default 10 s, counted from the start,
 * not from the last progress) is raised to 60 s on both ends. With PTO backoff (1, 2, 4, 8, 16 s
 * from kInitialRtt 333 ms) about one handshake in a hundred needs more than 10 s there (seen: seed
 * 3, connection 32 of handshakecorruption), and about one in seventy concurrent ones more than 30 s
 * (seen once in twelve quick runs: five PTO rounds in a row lost); the runner sets no handshake
 * timeout of its own. A slow handshake then costs time, not the case.
 */
const LOSSY_HANDSHAKES = {
  client: { transport: { handshakeTimeoutMs: 60_000 } },
  server: { transport: { handshakeTimeoutMs: 60_000 } },
  dialTimeoutMs: 60_000,
} as const;

/** Every case, in the runner's order. */
export const CASES: readonly InteropCase[] = [
  {
    name: 'handshake',
    runnerName: 'handshake',
    checks: '1 KB file intact, exactly 1 handshake',
    setup: () => ({ relay: {}, files: [1 * KB], timeoutMs: 20_000 }),
    check: transferLike,
  },
  {
    name: 'transfer',
    runnerName: 'transfer',
    checks: '2, 3 and 5 MB concurrently on one connection, client windows 16 KiB stream / 64 KiB connection at start (auto-tuned), 1 handshake',
    setup: (q) => ({
      relay: {},
      files: q ? [100 * KB, 150 * KB, 250 * KB] : [2 * MB, 3 * MB, 5 * MB],
      client: { transport: { streams: { initialStreamWindow: 16 * KB, initialConnectionWindow: 64 * KB } } },
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: transferLike,
  },
  {
    name: 'longrtt',
    runnerName: 'longrtt',
    checks: 'one-way delay 750 ms (RTT 1.5 s > first PTO 1 s): the ClientHello is sent at least twice, 1 handshake, file intact',
    // Quick: 150 ms one-way with kInitialRtt 50 ms (first PTO 150 ms < RTT 300 ms): the same situation, faster.
    setup: (q) => ({
      relay: { link: { delayMs: q ? 150 : 750 } },
      files: [1 * KB],
      ...(q ? { client: { transport: { initialRttMs: 50 } } } : {}),
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => {
      const failures = basics(o, 1);
      const dcid = clientDcids(o)[0];
      let hellos = 0;
      for (const p of o.trace) {
        if (p.dir !== 'toServer' || p.stage !== 'in' || !dcid) continue;
        const frames = initialFrames(p.head, Buffer.from(dcid, 'hex'), true);
        if (frames.some((f) => f.type === 'crypto' && f.offset === 0)) hellos++;
      }
      if (hellos < 2) failures.push(`expected at least 2 ClientHellos, saw ${hellos}`);
      return { failures, notes: [`${hellos} ClientHellos sent`] };
    },
  },
  {
    name: 'chacha20',
    runnerName: 'chacha20',
    checks: 'client offers only TLS_CHACHA20_POLY1305_SHA256 (read in its ClientHello), the ServerHello picks it, 3 MB intact, 1 handshake',
    setup: (q) => ({
      relay: {},
      files: [q ? 200 * KB : 3 * MB],
      client: { transport: { cipherSuites: [TLS_CHACHA20_POLY1305_SHA256] } },
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => {
      const failures = basics(o, 1);
      const dcid = Buffer.from(clientDcids(o)[0] ?? '', 'hex');
      let offered: number[] | undefined;
      let chosen: number | undefined;
      for (const p of o.trace) {
        if (p.stage !== 'in') continue;
        if (p.dir === 'toServer' && !offered) offered = clientHelloSuites(p.head, dcid);
        if (p.dir === 'toClient' && chosen === undefined) chosen = serverHelloSuite(p.head, dcid);
      }
      const name = (s: number | undefined): string => (s === undefined ? 'none' : `0x${s.toString(16)}`);
      if (!offered || offered.length !== 1 || offered[0] !== TLS_CHACHA20_POLY1305_SHA256) failures.push(`client offered ${offered?.map(name).join(',') ?? 'no ClientHello seen'}`);
      if (chosen !== TLS_CHACHA20_POLY1305_SHA256) failures.push(`server chose ${name(chosen)}`);
      return { failures, notes: [`suite ${name(chosen)}`] };
    },
  },
  {
    name: 'multiplexing',
    runnerName: 'multiplexing',
    checks: '1,999 files of 32 bytes, one stream each, on one connection; the server advertises initial_max_streams_bidi <= 1000 (client qlog) and raises it with MAX_STREAMS',
    setup: (q) => ({
      relay: {},
      files: Array.from({ length: q ? 300 : 1999 }, () => 32),
      server: { transport: { streams: { maxConcurrentBidiStreams: q ? 50 : 1000 } } },
      qlog: true,
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => {
      const failures = basics(o, 1);
      let limit: number | undefined;
      for (const t of o.qlogs) {
        if (t.role !== 'client') continue;
        for (const e of t.events) if (e.name === 'transport:parameters_set' && e.data['owner'] === 'remote') limit = Number(e.data['initial_max_streams_bidi']);
      }
      if (limit === undefined) failures.push("couldn't read the server's stream limit from the client's qlog");
      else if (limit > 1000) failures.push(`server set a stream limit > 1000: ${limit}`);
      const raised = qlogFrames(o.qlogs, 'server', 'transport:packet_sent', 'max_streams').length;
      return { failures, notes: [`server initial_max_streams_bidi ${limit}, ${raised} MAX_STREAMS sent`] };
    },
  },
  {
    name: 'retry',
    runnerName: 'retry',
    checks: "server sends a Retry; a later client Initial carries its token; the client's Initial packet numbers do not restart (qlog); 1 handshake, 10 KB intact",
    setup: () => ({ relay: {}, files: [10 * KB], server: { retry: 'always' }, qlog: true, timeoutMs: 20_000 }),
    check: (o) => {
      const failures = basics(o, 1);
      const tokens = new Set<string>();
      let used = false;
      for (const p of o.trace) {
        if (p.stage !== 'in') continue;
        for (const h of headers(p.head)) {
          if (p.dir === 'toClient' && h.type === 'retry') tokens.add(hex(h.token));
          if (p.dir === 'toServer' && h.type === 'initial' && h.token.length > 0 && tokens.has(hex(h.token))) used = true;
        }
      }
      if (tokens.size === 0) failures.push("didn't find any Retry packet");
      else if (!used) failures.push("didn't find any Initial packet using a Retry token");
      // The runner: a token-carrying Initial must not reuse a packet number (RFC 9000 §17.2.5.3).
      const pns: number[] = [];
      for (const t of o.qlogs) {
        if (t.role !== 'client') continue;
        for (const e of t.events) {
          const h = e.data['header'] as Record<string, unknown> | undefined;
          if (e.name === 'transport:packet_sent' && h?.['packet_type'] === 'initial') pns.push(Number(h['packet_number']));
        }
      }
      if (pns.some((pn, i) => i > 0 && pn <= (pns[i - 1] as number))) failures.push(`client Initial packet numbers restart: ${pns.join(',')}`);
      return { failures, notes: [`${tokens.size} Retry, token used ${used}, client Initial pns ${pns.join(',')}`] };
    },
  },
  {
    name: 'keyupdate',
    runnerName: 'keyupdate',
    checks: 'the client updates keys (keyUpdateIntervalPackets); 1-RTT packets with key phase 1 are seen from both sides (header protection removed with the key log), 3 MB intact, 1 handshake',
    setup: (q) => ({
      relay: {},
      files: [q ? 300 * KB : 3 * MB],
      client: { transport: { keyUpdateIntervalPackets: q ? 30 : 500 } },
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => {
      const failures = basics(o, 1);
      const secret = (label: string): Uint8Array | undefined => [...o.keylog.secrets.entries()].find(([k]) => k.endsWith(` ${label}`))?.[1];
      const c0 = secret('CLIENT_TRAFFIC_SECRET_0');
      const s0 = secret('SERVER_TRAFFIC_SECRET_0');
      const dcid = Buffer.from(clientDcids(o)[0] ?? '', 'hex');
      let suite: number | undefined;
      for (const p of o.trace) if (suite === undefined && p.dir === 'toClient' && p.stage === 'in') suite = serverHelloSuite(p.head, dcid);
      if (!c0 || !s0 || suite === undefined) return { failures: [...failures, 'no 1-RTT secrets in the key log or no ServerHello'], notes: [] };
      const readers = { toServer: new KeyPhaseReader(c0, suite as SuiteId), toClient: new KeyPhaseReader(s0, suite as SuiteId) };
      const phases = { toServer: [0, 0], toClient: [0, 0] };
      for (const p of o.trace) {
        if (p.stage !== 'in' || ((p.head[0] ?? 0x80) & 0x80) !== 0) continue;
        const k = readers[p.dir].keyPhase(p.head);
        if (k !== undefined) (phases[p.dir][k] as number)++;
      }
      const notes = [`client sent ${phases.toServer[0]} phase-0 / ${phases.toServer[1]} phase-1, server ${phases.toClient[0]} / ${phases.toClient[1]}; key updates client ${o.clientStats[0]?.keyUpdates}, server ${o.serverStats[0]?.keyUpdates}`];
      if (!((phases.toServer[1] as number) > 0 && (phases.toClient[1] as number) > 0)) failures.push('expected packets with key phase 1 from both client and server');
      return { failures, notes };
    },
  },
  {
    name: 'blackhole',
    runnerName: 'blackhole',
    checks: '10 MB through a link that is on 5 s / off 2 s (all packets dropped while off), intact, 1 handshake',
    setup: (q) => ({ relay: { blackhole: q ? { onMs: 300, offMs: 200 } : { onMs: 5_000, offMs: 2_000 } }, files: [q ? 400 * KB : 10 * MB], timeoutMs: q ? 30_000 : 120_000 }),
    check: (o) => {
      const failures = basics(o, 1);
      const c = o.relay.counters;
      const dropped = c.toServer.dropped.blackhole + c.toClient.dropped.blackhole;
      if (dropped === 0) failures.push('the blackhole never dropped anything (transfer shorter than an "on" period?)');
      return { failures, notes: [`${dropped} packets blackholed`] };
    },
  },
  {
    name: 'amplificationlimit',
    runnerName: 'amplificationlimit',
    checks:
      "client's packets 2-7 dropped; before the server receives a Handshake packet it never sends more than 3x the bytes it received (relay byte count). Not checked: the runner's >= 7500-byte server flight (it needs a 9-certificate chain; raw public keys make ours ~1 datagram, so the server's kInitialRtt is set to 20 ms: its PTO probes, sent while the client's packets are dropped, are what meets the limit)",
    // The server's kInitialRtt is 20 ms (PTO ~60 ms) so that its PTO probes fire while the
    // client's packets 2-7 are dropped: with our ~1-datagram flight, the runner's scenario alone
    // would validate the address before the server ever needed more than 1x.
    setup: () => ({ relay: { toServer: { droplist: [2, 3, 4, 5, 6, 7] } }, files: [5 * KB], server: { transport: { initialRttMs: 20 } }, timeoutMs: 30_000 }),
    check: (o) => {
      const failures = basics(o, 1);
      let received = 0;
      let sent = 0;
      let maxRatio = 0;
      for (const p of o.trace) {
        if (p.dir === 'toServer' && p.stage === 'out') {
          const hs = headers(p.head);
          if (hs.some((h) => h.type === 'handshake')) break; // RFC 9000 §8.1: the address is validated
          if (hs.some((h) => h.type === 'vn')) failures.push("didn't expect a Version Negotiation packet");
          received += p.size;
        } else if (p.dir === 'toClient' && p.stage === 'in') {
          sent += p.size;
          maxRatio = Math.max(maxRatio, sent / Math.max(1, received));
          if (sent > 3 * received) {
            failures.push(`server sent ${sent} bytes after receiving ${received} (limit ${3 * received})`);
            break;
          }
        }
      }
      return { failures, notes: [`before validation: server received ${received} B, sent ${sent} B (peak ${maxRatio.toFixed(2)}x of 3x)`] };
    },
  },
  {
    name: 'handshakeloss',
    runnerName: 'handshakeloss',
    checks: '50 connections (1 KB each) at 30% loss both ways, bursts up to 3: all complete, 50 handshakes',
    setup: (q) => ({
      relay: { toServer: { dropRate: 0.3, dropBurst: 3 }, toClient: { dropRate: 0.3, dropBurst: 3 } },
      files: [1 * KB],
      ...LOSSY_HANDSHAKES,
      connections: q ? 6 : 50,
      concurrency: q ? 6 : 5,
      timeoutMs: q ? 75_000 : 300_000,
    }),
    check: (o, q) => ({ failures: basics(o, q ? 6 : 50), notes: [`${o.relay.counters.toServer.dropped.rate + o.relay.counters.toClient.dropped.rate} packets dropped`] }),
  },
  {
    name: 'transferloss',
    runnerName: 'transferloss',
    checks: '2 MB at 2% loss both ways, bursts up to 3: intact, 1 handshake',
    setup: (q) => ({
      relay: { toServer: { dropRate: 0.02, dropBurst: 3 }, toClient: { dropRate: 0.02, dropBurst: 3 } },
      files: [q ? 300 * KB : 2 * MB],
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => ({ ...transferLike(o), notes: [`${o.relay.counters.toServer.dropped.rate + o.relay.counters.toClient.dropped.rate} packets dropped`] }),
  },
  {
    name: 'handshakecorruption',
    runnerName: 'handshakecorruption',
    checks: '50 connections at 30% corruption both ways (one byte of the first 50), bursts up to 3: all complete, 50 handshakes',
    setup: (q) => ({
      relay: { toServer: { corruptRate: 0.3, corruptBurst: 3 }, toClient: { corruptRate: 0.3, corruptBurst: 3 } },
      files: [1 * KB],
      ...LOSSY_HANDSHAKES,
      connections: q ? 6 : 50,
      concurrency: q ? 6 : 5,
      timeoutMs: q ? 75_000 : 300_000,
    }),
    check: (o, q) => ({ failures: basics(o, q ? 6 : 50), notes: [`${o.relay.counters.toServer.corrupted + o.relay.counters.toClient.corrupted} packets corrupted`] }),
  },
  {
    name: 'transfercorruption',
    runnerName: 'transfercorruption',
    checks: '2 MB at 2% corruption both ways, bursts up to 3: intact, 1 handshake',
    setup: (q) => ({
      relay: { toServer: { corruptRate: 0.02, corruptBurst: 3 }, toClient: { corruptRate: 0.02, corruptBurst: 3 } },
      files: [q ? 300 * KB : 2 * MB],
      timeoutMs: q ? 20_000 : 60_000,
    }),
    check: (o) => ({ ...transferLike(o), notes: [`${o.relay.counters.toServer.corrupted + o.relay.counters.toClient.corrupted} packets corrupted`] }),
  },
  {
    name: 'ipv6',
    runnerName: 'ipv6',
    checks: '5 KB and 10 KB over ::1 (relay, client and server IPv6 only): intact, 1 handshake, the server saw an IPv6 client',
    setup: () => ({ relay: {}, files: [5 * KB, 10 * KB], ipv6: true, timeoutMs: 20_000 }),
    check: (o) => {
      const failures = basics(o, 1);
      if (!o.serverSawClientAt.some((a) => a.startsWith('[::1]'))) failures.push(`the server saw the client at ${o.serverSawClientAt.join(', ')}`);
      return { failures, notes: [`server saw ${o.serverSawClientAt.join(', ')}`] };
    },
  },
  {
    name: 'rebind-port',
    runnerName: 'rebind-port',
    checks: "10 MB while the client's port changes (NAT rebinding) after 1 s then every 5 s: intact, 1 handshake, the server used > 1 path, sent a PATH_CHALLENGE per new path, every challenge the client received answered (qlog)",
    setup: (q) => ({
      // Quick: rebinds 700 ms apart, well above the RTT and PTO of a port-only change (the path
      // keeps its RTT estimate), so each validation can finish (and a lost challenge be repeated)
      // before the next rebind starts a new one.
      relay: { rebind: q ? { mode: 'port', firstMs: 300, everyMs: 700 } : { mode: 'port', firstMs: 1_000, everyMs: 5_000 } },
      files: [q ? 2 * MB : 10 * MB],
      qlog: true,
      timeoutMs: q ? 30_000 : 120_000,
    }),
    check: (o) => rebindCheck(o, 'port'),
  },
  {
    name: 'rebind-addr',
    runnerName: 'rebind-addr',
    checks: "as rebind-port, but the client's address changes too (127.0.0.X): the server saw > 1 client IP",
    setup: (q) => ({
      // Quick: rebinds 1.5 s apart. A new IP address gets a fresh RTT estimate (RFC 9000 §9.4), so
      // its challenge is repeated only after a PTO of kInitialRtt (~1 s): closer rebinds abandon a
      // validation whose first challenge was lost before it could be repeated, and that challenge
      // then stays unanswered (the runner's check fails, whatever the implementation).
      relay: { rebind: q ? { mode: 'addr', firstMs: 300, everyMs: 1_500 } : { mode: 'addr', firstMs: 1_000, everyMs: 5_000 } },
      files: [q ? 4 * MB : 10 * MB],
      qlog: true,
      timeoutMs: q ? 30_000 : 120_000,
    }),
    check: (o) => rebindCheck(o, 'addr'),
  },
  {
    name: 'goodput',
    runnerName: 'goodput',
    checks: '10 MB over the 10 Mbit/s link: intact, 1 handshake; goodput = file bits / time from first to last 1-RTT server packet delivered (the runner\'s measure), must exceed 90% of the link (full run only)',
    setup: (q) => ({ relay: {}, files: [q ? 1 * MB : 10 * MB], timeoutMs: q ? 20_000 : 60_000 }),
    check: (o, q) => {
      const failures = basics(o, 1);
      const oneRtt = o.trace.filter((p) => p.dir === 'toClient' && p.stage === 'out' && ((p.head[0] ?? 0x80) & 0x80) === 0);
      const first = oneRtt[0]?.ms ?? 0;
      const last = oneRtt[oneRtt.length - 1]?.ms ?? 0;
      const kbps = last > first ? Math.round((8 * o.bytes) / (last - first)) : 0;
      // No timed assertion in the quick variant (npm test): it only reports.
      if (!q && kbps <= 9_000) failures.push(`goodput ${kbps} kbit/s is not above 90% of the 10 Mbit/s link`);
      const st = o.serverStats[0];
      const sender = st ? `; server: ${st.packetsLost} lost, ${st.congestionEvents} congestion events, srtt ${st.rtt.smoothed.toFixed(0)} ms, mtu ${st.mtu}` : '';
      const l = o.relay.linkStats('toClient');
      const link = `; link to client idle ${l.idleMs.toFixed(0)} ms, deliveries late by ${(l.lateMsTotal / Math.max(1, l.delivered)).toFixed(1)} ms on average (max ${l.lateMsMax.toFixed(0)})`;
      return { failures, notes: [`${kbps} kbit/s${sender}${link}`], goodputKbps: kbps };
    },
  },
  {
    name: 'ecn',
    runnerName: 'ecn',
    checks: 'ECT(0) marks on sent packets and ECN counts in ACKs',
    unsupported:
      'node:dgram can neither set the IP ECN bits on sent datagrams nor read them on received ones (no IP_TOS/IP_RECVTOS cmsg access), so quic-peer cannot mark or count ECN',
    setup: () => ({ relay: {}, files: [], timeoutMs: 1 }),
    check: () => ({ failures: [], notes: [] }),
  },
];

export function caseByName(name: string): InteropCase | undefined {
  return CASES.find((c) => c.name === name);
}

/** For totals in the table. */
export function totalDropped(o: CaseOutcome): number {
  const c = o.relay.counters;
  return sum(Object.values(c.toServer.dropped)) + sum(Object.values(c.toClient.dropped));
}
