/**
 * Garbage collections of this process, counted from node:perf_hooks' `gc` entries: how many minor
 * (scavenges) and major (mark-compact) collections ran and their total pause, so a bulk run can say
 * which collector its two ends spent their time in. A receiver whose young generation V8 grew
 * during a handshake-heavy phase can fall into back-to-back mark-compacts for a whole transfer
 * (bench/README.md, "The shared server"); these counts show it run by run.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';

export interface GcCounts {
  /** Scavenges. */
  minor: number;
  /** Mark-compacts (full collections). */
  major: number;
  /** Their pauses on the main thread, ms. */
  ms: number;
}

let counts: GcCounts | undefined;

/** Starts counting (once per process) and returns a copy of the counts so far. */
export function gcCounts(): GcCounts {
  if (counts === undefined) {
    const c: GcCounts = { minor: 0, major: 0, ms: 0 };
    counts = c;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) c.minor++;
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) c.major++;
        c.ms += e.duration;
      }
    }).observe({ entryTypes: ['gc'] });
  }
  return { ...counts };
}

/** What happened between two `gcCounts()` (ms rounded to 0.1). */
export function gcSince(before: GcCounts, after: GcCounts): GcCounts {
  return { minor: after.minor - before.minor, major: after.major - before.major, ms: Math.round((after.ms - before.ms) * 10) / 10 };
}
