/**
 * A generational slot map: values behind opaque integer handles that never dangle.
 *
 * A handle is a non-negative safe integer (so it crosses JSON, postMessage and native bridges as a
 * plain number):
 *
 *     bit 52 ........ 35 | 34 .. 32 | 31 ............ 0
 *        generation (18) | kind (3) |   slot index (32)
 *
 * i.e. `handle = (generation * 8 + kind) * 2^32 + index`, always below 2^53. The generation of
 * a slot is bumped every time its value is removed, so a handle kept after `remove` carries an old
 * generation and is rejected as `stale`: it can never resolve to whatever is stored next in that
 * slot. Generations start at 1, so 0 is never a handle. A slot whose generation would pass the
 * maximum is retired (never reused) instead of wrapping, which keeps that guarantee for the life
 * of the map; a retired slot costs one small object.
 *
 * The kind field tags the map a handle came from: a map built for `reader` rejects a `session`
 * handle as `wrong-kind` even when index and generation happen to match one of its own slots.
 * Freed slots are reused last-in first-out.
 */
import { HandleLimitError, InvalidHandleError } from './errors.js';
import type { InvalidHandleReason } from './errors.js';

/** The kinds of handle, one per map of the store. Values 1..7 fit the 3-bit kind field. */
export const HandleKind = {
  /** A session handle (`sessionConnect`, `sessionAccept`). */
  session: 1,
  /** A reader handle: the receiving end of a body channel (`nextChunk`). */
  reader: 2,
  /** A writer handle: the sending end of a body channel (`sendChunk`, `finishBody`). */
  writer: 3,
} as const;
export type HandleKind = (typeof HandleKind)[keyof typeof HandleKind];

/** Largest generation a slot may carry by default (18 bits); then the slot is retired. */
export const MAX_GENERATION = 2 ** 18 - 1;
/** Largest slot index (32 bits). */
export const MAX_INDEX = 2 ** 32 - 1;

const INDEX_SPAN = 2 ** 32;
const KIND_BITS = 8; // 3 bits of kind: multiply/divide by 8 above the index

/** The fields of a handle, or null when the value is not a well-formed handle. */
export interface DecodedHandle {
  /** The slot index (low 32 bits). */
  index: number;
  /** The kind tag (3 bits): a {@link HandleKind} value in a well-formed handle. */
  kind: number;
  /** The slot's generation when the handle was issued (18 bits, from 1). */
  generation: number;
}

/** Builds a handle from its fields (exposed for tests and diagnostics). */
export function encodeHandle(index: number, kind: number, generation: number): number {
  return (generation * KIND_BITS + kind) * INDEX_SPAN + index;
}

/** Splits a handle into its fields; null when `h` is not a non-negative safe integer. */
export function decodeHandle(h: unknown): DecodedHandle | null {
  if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0) return null;
  const high = Math.floor(h / INDEX_SPAN);
  return { index: h % INDEX_SPAN, kind: high % KIND_BITS, generation: Math.floor(high / KIND_BITS) };
}

/** Name of a handle kind, for error messages. */
export function kindName(kind: number): string | undefined {
  for (const [name, value] of Object.entries(HandleKind)) if (value === kind) return name;
  return undefined;
}

/** Limits of a {@link SlotMap}. */
export interface SlotMapOptions {
  /** Generation at which a slot is retired instead of reused (default MAX_GENERATION). Tests lower it. */
  maxGeneration?: number;
  /** Largest slot index (default MAX_INDEX). Tests lower it. */
  maxIndex?: number;
}

/**
 * Values of one kind behind generational handles: a removed value's handle is rejected as `stale`
 * forever after, a handle of another kind as `wrong-kind`, never resolved to another value.
 */
export class SlotMap<T> {
  /** The kind tag every handle of this map carries. */
  readonly kind: HandleKind;
  /** The kind's name (`session`, `reader`, `writer`), for error messages. */
  readonly kindName: string;
  private readonly slots: Slot<T>[] = [];
  private readonly free: number[] = [];
  private readonly maxGeneration: number;
  private readonly maxIndex: number;
  private count = 0;
  private retired = 0;

  /** An empty map whose handles carry `kind`; throws RangeError on limits outside the handle's bit fields. */
  constructor(kind: HandleKind, options: SlotMapOptions = {}) {
    this.kind = kind;
    this.kindName = kindName(kind) ?? `kind ${kind}`;
    this.maxGeneration = options.maxGeneration ?? MAX_GENERATION;
    this.maxIndex = options.maxIndex ?? MAX_INDEX;
    if (!Number.isInteger(this.maxGeneration) || this.maxGeneration < 1 || this.maxGeneration > MAX_GENERATION) {
      throw new RangeError(`maxGeneration must be in [1, ${MAX_GENERATION}]`);
    }
    if (!Number.isInteger(this.maxIndex) || this.maxIndex < 0 || this.maxIndex > MAX_INDEX) {
      throw new RangeError(`maxIndex must be in [0, ${MAX_INDEX}]`);
    }
  }

  /** Number of live values. */
  get size(): number {
    return this.count;
  }

  /** Number of slots retired because their generation reached the maximum. */
  get retiredSlots(): number {
    return this.retired;
  }

  /** Number of slots ever allocated (live + free + retired). */
  get slotCount(): number {
    return this.slots.length;
  }

  /** Stores `value` and returns its new handle. Throws HandleLimitError when no index is left. */
  insert(value: T): number {
    let index = this.free.pop();
    let slot: Slot<T>;
    if (index === undefined) {
      index = this.slots.length;
      if (index > this.maxIndex) throw new HandleLimitError(this.maxIndex + 1, `${this.kindName} slot indices exhausted`);
      slot = { generation: 1, occupied: false, value: undefined };
      this.slots.push(slot);
    } else {
      slot = this.slots[index]!;
    }
    slot.occupied = true;
    slot.value = value;
    this.count++;
    return encodeHandle(index, this.kind, slot.generation);
  }

  /** The value behind `h`; throws InvalidHandleError (stale, wrong kind, never issued, malformed). */
  get(h: unknown): T {
    return this.resolve(h).value as T;
  }

  /** The value behind `h`, or undefined when `h` is not a live handle of this map. */
  tryGet(h: unknown): T | undefined {
    const slot = this.lookup(h);
    return typeof slot === 'string' ? undefined : (slot.value as T);
  }

  /** True when `h` is a live handle of this map. */
  has(h: unknown): boolean {
    return typeof this.lookup(h) !== 'string';
  }

  /** Why `h` would be rejected, or null when it is live. */
  check(h: unknown): InvalidHandleReason | null {
    const slot = this.lookup(h);
    return typeof slot === 'string' ? slot : null;
  }

  /** Removes and returns the value behind `h`; throws InvalidHandleError like `get`. */
  remove(h: unknown): T {
    const slot = this.resolve(h);
    return this.vacate(slot, (h as number) % INDEX_SPAN);
  }

  /** Removes and returns the value behind `h`, or undefined when `h` is not live. */
  tryRemove(h: unknown): T | undefined {
    const slot = this.lookup(h);
    if (typeof slot === 'string') return undefined;
    return this.vacate(slot, (h as number) % INDEX_SPAN);
  }

  /** Live `[handle, value]` pairs in slot order. Removing during iteration is safe. */
  *entries(): IterableIterator<[number, T]> {
    for (let index = 0; index < this.slots.length; index++) {
      const slot = this.slots[index]!;
      if (slot.occupied) yield [encodeHandle(index, this.kind, slot.generation), slot.value as T];
    }
  }

  /** Live handles in slot order. */
  *handles(): IterableIterator<number> {
    for (const [h] of this.entries()) yield h;
  }

  /** Live values in slot order. */
  *values(): IterableIterator<T> {
    for (const [, v] of this.entries()) yield v;
  }

  /** The same as {@link SlotMap.entries}: live `[handle, value]` pairs. */
  [Symbol.iterator](): IterableIterator<[number, T]> {
    return this.entries();
  }

  /** Removes every value (all handles become stale) and returns the removed pairs. */
  clear(): [number, T][] {
    const removed = [...this.entries()];
    for (const [h] of removed) this.remove(h);
    return removed;
  }

  private resolve(h: unknown): Slot<T> {
    const slot = this.lookup(h);
    if (typeof slot === 'string') {
      const d = decodeHandle(h);
      const detail = slot === 'wrong-kind' && d ? `it is a ${kindName(d.kind) ?? '?'} handle` : undefined;
      throw new InvalidHandleError(h, slot, this.kindName, detail);
    }
    return slot;
  }

  private lookup(h: unknown): Slot<T> | InvalidHandleReason {
    const d = decodeHandle(h);
    if (d === null) return 'malformed';
    if (d.kind !== this.kind) return kindName(d.kind) === undefined ? 'malformed' : 'wrong-kind';
    const slot = this.slots[d.index];
    if (slot === undefined || d.generation === 0 || d.generation > slot.generation) return 'never-issued';
    // Every generation below the slot's current one was issued once and then removed.
    if (d.generation < slot.generation) return 'stale';
    return slot.occupied ? slot : 'never-issued';
  }

  private vacate(slot: Slot<T>, index: number): T {
    const value = slot.value as T;
    slot.occupied = false;
    slot.value = undefined;
    slot.generation++;
    this.count--;
    // Retire rather than wrap: a wrapped generation could make an old handle live again.
    if (slot.generation > this.maxGeneration) this.retired++;
    else this.free.push(index);
    return value;
  }
}

interface Slot<T> {
  /** The generation of the live value, or of the next value when the slot is free. */
  generation: number;
  occupied: boolean;
  value: T | undefined;
}
