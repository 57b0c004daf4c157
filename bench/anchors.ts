/**
 * Benchmark keys of [perf2] measured from the parent process (bench/run.ts): the bulk upload with
 * 64 KiB packets (`bulk_jumbo_mbps`) and node:tls's handshake rounds (`tls_handshakes_per_s`), the
 * anchor of `handshakes_per_s`. Their servers run in children (bench/child.ts).
 */
import { connect as tlsConnect } from 'node:tls';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { BENCH_ALPN, JUMBO_TRANSPORT } from './common.js';
import { mbps, median, medianOrNull, startChild, withTimeout } from './proc.js';
import { streamUpload } from './upload.js';
import { measureUpload, type CpuCost } from './measure.js';

/** What one measurement gives: the figure, a note for the JSON and details. */
export interface Measured {
  value: number;
  note: string;
  details: Record<string, unknown>;
}

/**
 * The application's writes in `bulk_jumbo_mbps`: 256 KiB. bulk_mbps's 64 KiB writes would leave
 * every other 64 KiB packet nearly empty (one full packet and the write's remainder per event-loop
 * turn: ~2 packets per write, measured); bulk_mbps itself does not change with 256 KiB writes.
 */
const JUMBO_WRITE = 256 * 1024;

/**
 * `bulk_jumbo_mbps`: as bulk_mbps (one stream, `bytes` client -> server child, a fresh connection
 * per run, median of `runs`), both ends allowing 65527-byte UDP payloads, so the path MTU search
 * reaches loopback's 65507 (src/quic/connection/mtu.ts), in writes of 256 KiB. Each run first
 * waits for that MTU. `warmup` unmeasured transfers come first, as before bulk_mbps's runs. Each
 * measured run records both ends' CPU per packet and garbage collections (`details.runs`,
 * bench/measure.ts): with 64 KiB packets the collector, not the protocol, sets the pace
 * (bench/README.md, "Jumbo: V8's full collections").
 */
export async function jumboBulk(bytes: number, runs: number, warmup = 0): Promise<Measured> {
  const child = await startChild('quic-server-jumbo', []);
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: false, transport: JUMBO_TRANSPORT });
  const out: number[] = [];
  const mtus: number[] = [];
  const packets: number[] = [];
  const warm: number[] = [];
  const costs: CpuCost[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const s = await Session.connect(client, String(child.ready['ticket']), { alpn: BENCH_ALPN, timeoutMs: 10_000 });
      try {
        // The search starts once the handshake is confirmed; one probe reaches the ceiling.
        for (let t = 0; t < 100 && s.getStats().mtu < 65_000; t++) await new Promise((r) => setTimeout(r, 10));
        if (i < warmup) {
          warm.push(mbps(bytes, await streamUpload(s, bytes, JUMBO_WRITE)));
          continue;
        }
        const r = await measureUpload(s, bytes, child, { writeSize: JUMBO_WRITE });
        out.push(r.mbps);
        mtus.push(s.getStats().mtu);
        packets.push(r.packets);
        costs.push(r.cost);
      } finally {
        s.close(0, 'bye');
      }
    }
  } finally {
    await withTimeout(client.close(), 3000, 'client close').catch(() => {});
    await child.stop();
  }
  return {
    value: median(out),
    note: `as bulk_mbps (${bytes / 1e6} MB, one stream, server child) in writes of 256 KiB, both ends with transport.maxUdpPayloadSize 65527: the path MTU search reaches loopback's 65507-byte UDP payload; median of ${runs} after ${warmup} unmeasured transfers`,
    details: {
      runs_mbps: out,
      warmup_mbps: warm,
      mtu: mtus,
      packets_sent: packets,
      sender_us_per_packet: medianOrNull(costs.map((c) => c.sender_us_per_packet)),
      receiver_us_per_packet: medianOrNull(costs.map((c) => c.receiver_us_per_packet)),
      sender_main_thread_share: medianOrNull(costs.map((c) => c.sender_main_thread_share)),
      receiver_main_thread_share: medianOrNull(costs.map((c) => c.receiver_main_thread_share)),
      runs: costs,
    },
  };
}

/**
 * `tls_handshakes_per_s`: node:tls over TCP (TLS 1.3, the tls-server child's Ed25519
 * certificate), 32 connections dialled at once per round as handshakes_per_s does, each counted
 * at its secureConnect and destroyed. No session reuse: every handshake is a full one
 * (certificate, signature, key agreement). `openTlsHandshakes` starts the server child and does
 * `warmup` sequential connects (quic-peer's handshake keys get the same); run.ts then times
 * `round`s interleaved with quic-peer's own (`handshakes_per_s`), so both rates see the same
 * moments of a shared machine.
 */
export interface TlsHandshakeRounds {
  /** One round: 32 connects at once, resolved when all 32 are secure. */
  round(): Promise<void>;
  readonly note: string;
  stop(): Promise<void>;
}

export async function openTlsHandshakes(warmup: number): Promise<TlsHandshakeRounds> {
  const child = await startChild('tls-server', []);
  const port = Number(child.ready['port']);
  const ca = String(child.ready['certPem']);
  const dial = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const sock = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'bench.local', minVersion: 'TLSv1.3' });
      sock.once('secureConnect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', reject);
    });
  try {
    await Promise.all(Array.from({ length: 4 }, dial)); // code paths and JIT
    // The same sequential warm-up as quic-peer's handshake keys (run.ts handshakeWarmup).
    for (let i = 0; i < warmup; i++) await dial();
  } catch (e) {
    await child.stop();
    throw e;
  }
  return {
    round: async () => {
      await Promise.all(Array.from({ length: 32 }, dial));
    },
    note: `node:tls over TCP loopback, TLS 1.3 with an Ed25519 certificate, server in a child process; 32 concurrent connects from this process per round, each counted at secureConnect (full handshakes, no resumption), after ${warmup} sequential warm-up connects; its rounds interleaved with handshakes_per_s's (details.handshake_rate_blocks), rate over all its rounds`,
    stop: () => child.stop(),
  };
}
