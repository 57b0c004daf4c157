import { SeededRandom } from '../../src/tls/random.js';
import { fromHex, toHex } from '../../src/codec/bytes.js';
import { Finding } from './oracle.js';

/**
 * The fuzzing loop: seeded, deterministic, target by target.
 *
 * A target keeps state (a live connection, an endpoint with two connections) across the inputs of
 * one EPOCH, then starts over from a fresh state made from the epoch's seed. Everything is derived
 * from the run seed, so a run is replayed exactly by its seed, and a finding by its reproducer:
 * the epoch seed and the inputs of that epoch up to the one that failed (each as hex), which
 * `replay` feeds to a fresh state in order.
 */
export interface FuzzInput {
  /** What the bytes are (target-specific: 'frames', 'datagram', 'tls', 'tp', ...). */
  readonly kind: string;
  readonly bytes: Uint8Array;
  /** Packet number space to seal the frames in. */
  readonly space?: number;
  /** Packet numbers skipped before this packet (gaps for the receiver's ACK ranges). */
  readonly pnSkip?: number;
  /** Which connection / address it is aimed at, for targets with several. */
  readonly aim?: string;
  /** Mutation operators applied (informational). */
  readonly ops?: readonly string[];
}

export interface Target {
  readonly name: string;
  readonly description: string;
  /** Inputs per epoch before the state is rebuilt (1 for stateless targets). */
  readonly epochLength: number;
  /** A fresh state. */
  reset(epochSeed: number): void;
  /** The next input (uses only `rng` for randomness). */
  generate(rng: SeededRandom): FuzzInput;
  /** Runs one input against the state; returns an outcome label. Throws Finding on a violated property. */
  exec(input: FuzzInput): string;
  /** Checks at the end of an epoch (liveness of what must survive). Throws Finding. */
  endEpoch?(): void;
  /** True when further inputs this epoch are pointless (the victim closed): the epoch ends early. */
  readonly exhausted?: boolean;
}

export interface FindingRecord {
  readonly target: string;
  readonly seed: number;
  readonly epochSeed: number;
  readonly kind: string;
  readonly message: string;
  readonly stack: string;
  readonly inputs: ReadonlyArray<{ kind: string; hex: string; space?: number; pnSkip?: number; aim?: string; ops?: readonly string[] }>;
}

export interface TargetReport {
  executions: number;
  epochs: number;
  ms: number;
  outcomes: Map<string, number>;
  findings: FindingRecord[];
}

export interface RunOptions {
  readonly seed: number;
  readonly targets: readonly Target[];
  /** Fixed number of executions per target (deterministic runs)... */
  readonly executions?: number;
  /** ...or a time budget shared by the targets, round robin by epoch. */
  readonly seconds?: number;
  /** Stop a target after this many findings (default 1: the first is the one to fix). */
  readonly maxFindings?: number;
  /** Called on every finding, as it happens. */
  readonly onFinding?: (f: FindingRecord) => void;
}

/** Runs the targets; returns a report per target. Never throws for a finding: they are reported. */
export function runFuzz(opts: RunOptions): Map<string, TargetReport> {
  const reports = new Map<string, TargetReport>();
  const states = opts.targets.map((t, i) => ({
    t,
    rng: new SeededRandom(mix(opts.seed, i + 1)),
    report: { executions: 0, epochs: 0, ms: 0, outcomes: new Map<string, number>(), findings: [] } as TargetReport,
  }));
  for (const s of states) reports.set(s.t.name, s.report);
  const deadline = opts.seconds !== undefined ? performance.now() + opts.seconds * 1000 : Infinity;
  const maxFindings = opts.maxFindings ?? 1;
  const live = (s: (typeof states)[number]): boolean =>
    s.report.findings.length < maxFindings && (opts.executions === undefined || s.report.executions < opts.executions);
  if (opts.executions !== undefined) {
    // Fixed work: each target in turn, epoch by epoch (the order does not change the inputs).
    for (const s of states) {
      while (live(s) && performance.now() <= deadline) {
        const budget = opts.executions - s.report.executions;
        runEpoch(s.t, opts.seed, s.rng.nextU32(), Math.min(s.t.epochLength, budget), s.report, opts.onFinding);
      }
    }
  } else {
    // A time budget: the next epoch goes to the target that has had the least time so far.
    for (;;) {
      let next: (typeof states)[number] | undefined;
      for (const s of states) if (live(s) && (!next || s.report.ms < next.report.ms)) next = s;
      if (!next || performance.now() > deadline) break;
      runEpoch(next.t, opts.seed, next.rng.nextU32(), next.t.epochLength, next.report, opts.onFinding);
    }
  }
  return reports;
}

function runEpoch(
  t: Target,
  seed: number,
  epochSeed: number,
  length: number,
  report: TargetReport,
  onFinding: RunOptions['onFinding'],
): void {
  const t0 = performance.now();
  const rng = new SeededRandom(epochSeed);
  const inputs: FuzzInput[] = [];
  report.epochs++;
  try {
    t.reset(epochSeed);
    for (let i = 0; i < length; i++) {
      const input = t.generate(rng);
      inputs.push(input);
      report.executions++;
      const outcome = t.exec(input);
      report.outcomes.set(outcome, (report.outcomes.get(outcome) ?? 0) + 1);
      if (t.exhausted) break;
    }
    t.endEpoch?.();
  } catch (e) {
    const f = record(t.name, seed, epochSeed, e, inputs);
    report.findings.push(f);
    onFinding?.(f);
  } finally {
    report.ms += performance.now() - t0;
  }
}

/** Replays a reproducer against a fresh state: returns the finding it reproduces, or undefined. */
export function replay(t: Target, f: Pick<FindingRecord, 'epochSeed' | 'inputs'>): FindingRecord | undefined {
  const inputs: FuzzInput[] = f.inputs.map((x) => ({ ...x, bytes: fromHex(x.hex) }));
  try {
    t.reset(f.epochSeed);
    for (const input of inputs) t.exec(input);
    t.endEpoch?.();
    return undefined;
  } catch (e) {
    return record(t.name, 0, f.epochSeed, e, inputs);
  }
}

function record(target: string, seed: number, epochSeed: number, e: unknown, inputs: readonly FuzzInput[]): FindingRecord {
  const kind = e instanceof Finding ? e.kind : 'uncaught-exception';
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    target,
    seed,
    epochSeed,
    kind,
    message: err.message,
    stack: err.stack ?? '',
    inputs: inputs.map((x) => ({
      kind: x.kind,
      hex: toHex(x.bytes),
      ...(x.space !== undefined ? { space: x.space } : {}),
      ...(x.pnSkip !== undefined ? { pnSkip: x.pnSkip } : {}),
      ...(x.aim !== undefined ? { aim: x.aim } : {}),
      ...(x.ops ? { ops: x.ops } : {}),
    })),
  };
}

/** A 32-bit mix of two integers (per-target seeds from the run seed). */
export function mix(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul(b >>> 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}
