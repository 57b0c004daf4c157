/**
 * What "flat" means for the soak, written down so it can be argued with:
 *
 * 1. Memory: over the samples after the warm-up, the least-squares slope of heapUsed (after gc)
 *    is below `heapSlopeMBPerMin`, and so is the slope of arrayBuffers (where the contents of
 *    every Uint8Array live: a leak of packet or stream buffers shows there, not in heapUsed).
 *    A slope, not first-vs-last, because single samples are noisy (a 1 MB bulk body in flight
 *    or not); the fit over many samples averages that out. The default 0.5 MB/min would flag a
 *    leak of ~8 KB per second, e.g. 2 KB per churned session. heapUsed still creeps for several
 *    minutes without a leak: V8 keeps compiling hot functions (a heap-snapshot diff between 40 s
 *    and 195 s of a run showed +1 MB, all of it code, deopt data and code metadata; no object
 *    type of ours grew), hence the 120 s warm-up and a slope rather than a zero-growth rule.
 * 2. Counts: once the traffic stops and the churned sessions drained, sessions, connections,
 *    streams (both sides) and process handles (sockets, ...; not timers) are exactly what they
 *    were before the traffic started. And during the run, after the warm-up, no count trends:
 *    the slope of each is below `countSlopePerMin` (churn makes them wobble, never climb).
 * 3. No traffic error: every bulk body, stream echo and churned session came back intact.
 */
import type { Counts, Sample, SoakResult } from './soak.js';

export interface Thresholds {
  /** Seconds of samples ignored at the start (JIT, pools and windows growing to steady state). */
  readonly warmupS: number;
  readonly heapSlopeMBPerMin: number;
  readonly countSlopePerMin: number;
  /**
   * Judge trends (memory and count slopes). A short run cannot: a fit over a few samples in
   * under a minute is noise, so the smoke test judges only the return to baseline and errors.
   */
  readonly judgeTrends: boolean;
}

export interface Verdict {
  readonly flat: boolean;
  readonly reasons: string[];
  readonly heapSlopeMBPerMin: number;
  readonly arrayBuffersSlopeMBPerMin: number;
  readonly countSlopes: Record<string, number>;
  readonly postWarmupSamples: number;
}

const COUNT_KEYS = ['serverSessions', 'clientSessions', 'serverConnections', 'clientConnections', 'serverStreams', 'clientStreams', 'handles'] as const;

/** Least-squares slope of y over x (0 with fewer than 2 points). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function judge(r: SoakResult, t: Thresholds): Verdict {
  const reasons: string[] = [];
  const post = r.samples.filter((s) => s.t >= t.warmupS);
  const mins = post.map((s) => s.t / 60);
  const mb = (f: (s: Sample) => number): number => slope(mins, post.map((s) => f(s) / 2 ** 20));
  const heap = mb((s) => s.heapUsed);
  const ab = mb((s) => s.arrayBuffers);
  if (t.judgeTrends) {
    if (!r.gcExposed) reasons.push('memory not judged without gc (run node with --expose-gc)');
    if (post.length < 5) reasons.push(`only ${post.length} samples after the warm-up (need 5)`);
    if (heap >= t.heapSlopeMBPerMin) reasons.push(`heapUsed grows ${heap.toFixed(3)} MB/min (limit ${t.heapSlopeMBPerMin})`);
    if (ab >= t.heapSlopeMBPerMin) reasons.push(`arrayBuffers grow ${ab.toFixed(3)} MB/min (limit ${t.heapSlopeMBPerMin})`);
  }
  const countSlopes: Record<string, number> = {};
  for (const k of COUNT_KEYS) {
    const sl = slope(mins, post.map((s) => s[k]));
    countSlopes[k] = sl;
    if (t.judgeTrends && sl >= t.countSlopePerMin) reasons.push(`${k} climbs ${sl.toFixed(2)}/min (limit ${t.countSlopePerMin})`);
  }
  for (const k of COUNT_KEYS) {
    if (r.final[k] !== r.baseline[k]) reasons.push(`${k}: ${r.final[k]} after the traffic stopped, ${r.baseline[k]} before it started`);
  }
  if (r.traffic.errors > 0) reasons.push(`${r.traffic.errors} traffic errors: ${r.errorsSeen.slice(0, 3).join('; ')}`);
  if (r.traffic.bulkBytes === 0 || r.traffic.smallStreams === 0 || r.traffic.churnedSessions === 0 || r.traffic.datagramsEchoed === 0) {
    reasons.push(`some traffic never ran: ${JSON.stringify(r.traffic)}`);
  }
  return { flat: reasons.length === 0, reasons, heapSlopeMBPerMin: heap, arrayBuffersSlopeMBPerMin: ab, countSlopes, postWarmupSamples: post.length };
}

/** One line per sample, for the console. */
export function formatSample(s: Sample): string {
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1).padStart(6);
  const tr = s.traffic;
  return (
    `t=${s.t.toFixed(0).padStart(5)}s heap ${mb(s.heapUsed)} MB  buffers ${mb(s.arrayBuffers)} MB  rss ${mb(s.rss)} MB | ` +
    `sessions ${s.serverSessions}/${s.clientSessions} conns ${s.serverConnections}/${s.clientConnections} ` +
    `streams ${s.serverStreams}/${s.clientStreams} handles ${s.handles} timers ${s.timers} | ` +
    `bulk ${(tr.bulkBytes / 1e6).toFixed(0)} MB, ${tr.smallStreams} streams, ${tr.datagramsEchoed}/${tr.datagramsSent} dgrams, ` +
    `${tr.churnedSessions} churned, ${tr.errors} errors`
  );
}

export const CSV_HEADER =
  't_s,heap_used,array_buffers,rss,server_sessions,client_sessions,server_connections,client_connections,server_streams,client_streams,handles,timers,' +
  'bulk_bytes,small_streams,datagrams_sent,datagrams_echoed,churned_sessions,errors';

export function csvRow(s: Sample): string {
  const tr = s.traffic;
  return [
    s.t, s.heapUsed, s.arrayBuffers, s.rss, s.serverSessions, s.clientSessions, s.serverConnections, s.clientConnections,
    s.serverStreams, s.clientStreams, s.handles, s.timers, tr.bulkBytes, tr.smallStreams, tr.datagramsSent, tr.datagramsEchoed,
    tr.churnedSessions, tr.errors,
  ].join(',');
}

export function formatCounts(c: Counts): string {
  return COUNT_KEYS.map((k) => `${k} ${c[k]}`).join(', ');
}
