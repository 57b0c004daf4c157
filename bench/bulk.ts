/**
 * The two-process bulk transfer alone (`bulk_mbps` of run.ts), for profiling the sender (this
 * process) and the receiver (the quic-server child):
 *
 *   node build/bench/bulk.js [--mb N] [--runs N] [--handshakes N] [--child-prof DIR]
 *   node --cpu-prof --cpu-prof-dir=DIR build/bench/bulk.js --mb 100 --child-prof DIR
 *
 * `--child-prof DIR` starts the child with `--cpu-prof --cpu-prof-dir=DIR`. Prints one JSON line per
 * run (Mbit/s, and the CPU time of this process during the run). `--handshakes N`: N sequential full
 * handshakes (dial, close) before the transfers, as run.ts's warm-up does before `bulk_mbps`.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { streamUpload } from './upload.js';
import { BENCH_ALPN } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const bytes = Number(opt('--mb', '30')) * 1_000_000;
const runs = Number(opt('--runs', '2'));
const childProf = opt('--child-prof', '');
const handshakes = Number(opt('--handshakes', '0'));

async function main(): Promise<void> {
  const flags = childProf ? ['--cpu-prof', `--cpu-prof-dir=${childProf}`] : [];
  const child = spawn(process.execPath, [...flags, join(here, 'child.js'), 'quic-server'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const hard = setTimeout(() => child.kill('SIGKILL'), 300_000);
  hard.unref();
  const ready = await new Promise<{ ticket: string }>((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as { ticket: string });
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
  try {
    for (let i = 0; i < handshakes; i++) (await Session.connect(client, ready.ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 })).close(0, 'bye');
    for (let r = 0; r < runs; r++) {
      const session = await Session.connect(client, ready.ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
      const cpu0 = process.cpuUsage();
      const ms = await streamUpload(session, bytes);
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const st = session.getStats();
      // Packets received by the sender are the receiver's ACK-bearing packets: their ratio to the
      // data packets is the ACK rate both ends pay for (a receive and an open here, a seal and a send there).
      console.log(JSON.stringify({ mbps: Math.round((bytes * 8) / (ms * 1000)), ms: Math.round(ms), senderCpuMs: Math.round(cpuMs), packetsSent: st.packetsSent, packetsReceived: st.packetsReceived, packetsLost: st.packetsLost }));
      session.close(0, 'bye');
    }
  } finally {
    await client.close();
    child.stdin.end();
    await new Promise((r) => child.on('close', r));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bulk: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
