/**
 * The in-memory bulk transfer alone, for profiling the protocol logic (issue #6, bench/README.md
 * "Where the time goes per packet"):
 *
 *   node build/bench/inmem.js [--real] [--mb N] [--runs N]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof build/bench/inmem.js --mb 30
 *
 * The same transfer as `bulk_inmem_nullkeys_mbps` in run.ts (test/harness/pair.ts, 1 ms link, one
 * uni stream, both sides in this thread), with null packet protection unless `--real` (then
 * AES-128-GCM). Prints one JSON line per run: Mbit/s by wall clock and by CPU time (steadier on a
 * shared machine), packets each way, ns per data packet, and the garbage collections of the run
 * (scavenges count the bytes allocated: the steadiest figure on a loaded machine). `--discard` reads 64 KiB at a time and
 * drops the bytes (as the session's readable and the bench server do) instead of keeping them.
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { Pair } from '../test/harness/pair.js';
import { DiscardingReceiver, StreamReceiver, StreamSender, run as runPair } from '../test/harness/apps.js';

const args = process.argv.slice(2);
const real = args.includes('--real');
const mbArg = args.indexOf('--mb');
const runsArg = args.indexOf('--runs');
const bytes = (mbArg >= 0 ? Number(args[mbArg + 1]) : 10) * 1_000_000;
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 1;
/** Read in 64 KiB chunks and drop them (what the session's readable and the bench server do). */
const discard = args.includes('--discard');

/** Garbage collections seen (minor = scavenges: their count follows the bytes allocated). */
const gc = { minor: 0, major: 0, ms: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
    else gc.major++;
    gc.ms += e.duration;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const gcTick = (): Promise<void> => new Promise((r) => setImmediate(r));

for (let r = 0; r < runs; r++) {
  const transport = real ? {} : { insecureNullKeys: true };
  const p = new Pair({ seed: 6, link: { delayMs: 1, queuePackets: 100_000 }, clientTransport: transport, serverTransport: transport });
  p.handshake();
  const data = new Uint8Array(bytes).fill(0x6d);
  const sender = new StreamSender(p.client, data, 'uni');
  const receiver = discard ? new DiscardingReceiver(p) : new StreamReceiver(() => p.server);
  const done = (): boolean => (receiver instanceof DiscardingReceiver ? receiver.ended : receiver.streams.get(sender.id)?.ended === true);
  const received = (): number => (receiver instanceof DiscardingReceiver ? receiver.bytes : receiver.streams.get(sender.id)?.bytes ?? 0);
  const sent0 = p.clientSent.length;
  const acks0 = p.serverSent.length;
  await gcTick();
  const gc0 = { ...gc };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  runPair(p, [sender, receiver], done, 3_600_000);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await gcTick(); // GC entries are delivered asynchronously
  const got = received();
  if (got !== bytes) throw new Error(`delivered ${got} of ${bytes}`);
  const packets = p.clientSent.length - sent0;
  const acks = p.serverSent.length - acks0;
  console.log(
    JSON.stringify({
      keys: real ? 'aes-128-gcm' : 'null',
      receiver: discard ? 'discard' : 'keep',
      mbps: Math.round(((bytes * 8) / (ms * 1000)) * 10) / 10,
      ms: Math.round(ms),
      // CPU time is steadier than wall time on a shared machine: Mbit/s per CPU-second.
      cpuMbps: Math.round(((bytes * 8) / (cpuMs * 1000)) * 10) / 10,
      cpuMs: Math.round(cpuMs),
      dataPackets: packets,
      ackPackets: acks,
      nsPerDataPacket: Math.round((ms * 1e6) / packets),
      cpuNsPerDataPacket: Math.round((cpuMs * 1e6) / packets),
      scavenges: gc.minor - gc0.minor,
      majorGcs: gc.major - gc0.major,
      gcMs: Math.round(gc.ms - gc0.ms),
    }),
  );
}
