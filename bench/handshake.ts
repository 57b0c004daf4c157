/**
 * The handshake keys of run.ts alone (`handshake_ms_p50`/`_p99` and `handshakes_per_s`), against
 * the `quic-server` child, for profiling the client (this process) and the server (the child):
 *
 *   node build/bench/handshake.js [--seq N] [--rounds N] [--repeat N] [--warmup N] [--child-prof DIR] [--no-multipath]
 *   node --cpu-prof --cpu-prof-dir=DIR build/bench/handshake.js --child-prof DIR
 *
 * Each repetition measures N sequential handshakes (p50, p99) and R rounds of 32 concurrent
 * dials from one client Endpoint (handshakes/s, and the first and last completion of each round),
 * and prints one JSON line. Defaults: 200 sequential, 5 rounds (run.ts's full sizes), 1 repeat.
 * `--warmup N`: N sequential handshakes first, unmeasured (run.ts's full bench does 3000: the
 * figures of a warm process; without it they are of the JIT's warm-up, bench/README.md "Warm-up").
 * `--no-multipath`: the client says `multipath: false`, so neither multipath nor NAT traversal is
 * negotiated (the server child keeps its defaults).
 */
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { BENCH_ALPN } from './common.js';
import { killChildren, median, percentile, processCpuMs, startChild } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const seq = Number(opt('--seq', '200'));
const rounds = Number(opt('--rounds', '5'));
const repeat = Number(opt('--repeat', '1'));
const childProf = opt('--child-prof', '');
const noMultipath = args.includes('--no-multipath');
const warmup = Number(opt('--warmup', '0'));

/** CPU time (ms) a process used so far, from /proc (proc.ts); NaN where there is none. */
const procCpuMs = (pid: number): number => processCpuMs(pid) ?? Number.NaN;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const hard = setTimeout(() => {
    killChildren();
    process.exit(2);
  }, 600_000);
  hard.unref();
  const child = await startChild('quic-server', [], childProf ? ['--cpu-prof', `--cpu-prof-dir=${childProf}`] : []);
  const ticket = child.ready['ticket'] as string;
  // Full handshakes: no session cache, so no dial resumes.
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: false, ...(noMultipath ? { transport: { multipath: false } } : {}) });
  const dial = (): Promise<Session> => Session.connect(client, ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
  try {
    for (let i = 0; i < warmup; i++) (await dial()).close(0, 'bye');
    for (let k = 0; k < repeat; k++) {
      const ms: number[] = [];
      const pid = child.proc.pid!;
      let c0 = cpuMs();
      let s0 = procCpuMs(pid);
      for (let i = 0; i < seq; i++) {
        const t0 = performance.now();
        const s = await dial();
        ms.push(performance.now() - t0);
        s.close(0, 'bye');
      }
      const seqCpu = { client: (cpuMs() - c0) / seq, server: (procCpuMs(pid) - s0) / seq };
      c0 = cpuMs();
      s0 = procCpuMs(pid);
      // The driver's counters (a bench-only peek at a private field): datagrams per handshake.
      const counters = (client as unknown as { driver: { counters: { sent: number; received: number } } }).driver.counters;
      const d0 = { ...counters };
      const firstLast: Array<[number, number]> = [];
      let done = 0;
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) {
        const r0 = performance.now();
        const at: number[] = [];
        const sessions = await Promise.all(
          Array.from({ length: 32 }, () =>
            dial().then((s) => {
              at.push(performance.now() - r0);
              return s;
            }),
          ),
        );
        done += sessions.length;
        firstLast.push([Math.round(Math.min(...at) * 10) / 10, Math.round(Math.max(...at) * 10) / 10]);
        for (const s of sessions) s.close(0, 'bye');
      }
      const perS = done / ((performance.now() - t0) / 1000);
      const concCpu = { client: (cpuMs() - c0) / done, server: (procCpuMs(pid) - s0) / done };
      const r2 = (x: number): number => Math.round(x * 100) / 100;
      console.log(
        JSON.stringify({
          handshake_ms_p50: r2(median(ms)),
          handshake_ms_p99: r2(percentile(ms, 99)),
          handshakes_per_s: Math.round(perS),
          // CPU ms per handshake (the server's from /proc, 10 ms ticks: coarse but unbiased).
          cpu_ms_sequential: { client: r2(seqCpu.client), server: r2(seqCpu.server) },
          cpu_ms_concurrent: { client: r2(concCpu.client), server: r2(concCpu.server) },
          client_datagrams_per_handshake: { sent: r2((counters.sent - d0.sent) / done), received: r2((counters.received - d0.received) / done) },
          round_first_last_ms: firstLast,
        }),
      );
    }
  } finally {
    await client.close();
    await child.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`handshake: ${(e as Error).stack ?? String(e)}\n`);
  killChildren();
  process.exit(1);
});
