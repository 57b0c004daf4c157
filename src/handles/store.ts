/**
 * The handle store: one per endpoint, it owns every object a caller can name by handle.
 *
 * It mirrors iroh-http's `HandleStore`: three generational slot maps (sessions, readers, writers),
 * an insert guard that makes multi-handle inserts all-or-nothing, body channels of iroh-http's size,
 * a limit on the total number of handles, and an idle TTL sweep so that a caller that leaks
 * handles (never reads a body to its end, never closes a session) cannot exhaust memory.
 *
 * Idleness. Every entry records when it was last used (`lookup*`, `use*`, insert). An entry is
 * busy while a `use*` call runs on it (an awaited `nextChunk`, `recvDatagram`, `closed`...), and
 * busy entries are never swept however long they wait. A reader or writer may name the session
 * it belongs to: using or pinning it also touches/pins that session, so a session streaming a
 * large body through its streams is not idle.
 *
 * Closing what is swept: writers are aborted, readers cancelled (application code 0), sessions
 * passed to the `closeSession` hook. Plain `remove*` only unregisters: the caller owns the value.
 *
 * The store reads time only through the injected clock (default `performance.now`), so tests
 * run the sweep on a virtual clock. The optional timer-driven sweeper is unref'd.
 */
import { makeBodyChannel } from './body-channel.js';
import type { BodyChannelOptions, BodyReader, BodyWriter } from './body-channel.js';
import { HandleLimitError } from './errors.js';
import { HandleKind, SlotMap } from './slot-map.js';
import type { SlotMapOptions } from './slot-map.js';

/** Default total number of handles (sessions + readers + writers) a store holds. */
export const DEFAULT_MAX_HANDLES = 65_536;
/** Default idle time after which `sweep` removes an entry: 5 minutes. */
export const DEFAULT_IDLE_TTL_MS = 5 * 60_000;

/** Limits and hooks of a {@link HandleStore}. */
export interface HandleStoreOptions<SessionT> {
  /** Total handles across the three maps (default 65,536). */
  maxHandles?: number;
  /** Idle time in milliseconds after which `sweep` removes an entry (default 5 minutes). */
  idleTtlMs?: number;
  /** Milliseconds, monotonic (default `performance.now`). */
  clock?: () => number;
  /** Called for each session the sweep (or `closeAll`) removes; errors it throws are ignored. */
  closeSession?: (session: SessionT) => void;
  /** Size of the channels made by `makeBodyChannel` (default 32 chunks of 64 KiB). */
  channel?: BodyChannelOptions;
  /** Passed to the slot maps (tests lower the generation limit). */
  slotMap?: SlotMapOptions;
}

/** Links a reader or writer to the session it belongs to. */
export interface ChildOptions {
  /** Handle of the owning session: using the child keeps the session from being idle. */
  session?: number;
}

/** Handles removed by a sweep (or `closeAll`), by kind. */
export interface SweepResult {
  /** Session handles removed (each passed to the `closeSession` hook). */
  sessions: number[];
  /** Reader handles removed (each cancelled with code 0). */
  readers: number[];
  /** Writer handles removed (each aborted with code 0). */
  writers: number[];
}

/**
 * Every object a caller names by handle, for one endpoint: sessions, body readers and body
 * writers in three generational slot maps, a limit on the total, and an idle sweep that closes
 * what a leaking caller forgot (entries in use by a pending call are never swept).
 */
export class HandleStore<SessionT> {
  /** The most handles (sessions + readers + writers) held at once. */
  readonly maxHandles: number;
  /** Idle time in milliseconds after which `sweep` removes an entry. */
  readonly idleTtlMs: number;
  /** The store's monotonic clock, in milliseconds. */
  readonly clock: () => number;
  private readonly sessions: SlotMap<Entry<SessionT>>;
  private readonly readers: SlotMap<Entry<BodyReader>>;
  private readonly writers: SlotMap<Entry<BodyWriter>>;
  private readonly closeSessionHook: ((session: SessionT) => void) | undefined;
  private readonly channelOptions: BodyChannelOptions;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  /** An empty store; throws RangeError on a negative `maxHandles` or a non-positive `idleTtlMs`. */
  constructor(options: HandleStoreOptions<SessionT> = {}) {
    this.maxHandles = options.maxHandles ?? DEFAULT_MAX_HANDLES;
    this.idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
    if (!Number.isSafeInteger(this.maxHandles) || this.maxHandles < 0) throw new RangeError('maxHandles must be a non-negative integer');
    if (!(this.idleTtlMs > 0)) throw new RangeError('idleTtlMs must be positive');
    this.clock = options.clock ?? (() => performance.now());
    this.closeSessionHook = options.closeSession;
    this.channelOptions = options.channel ?? {};
    this.sessions = new SlotMap(HandleKind.session, options.slotMap);
    this.readers = new SlotMap(HandleKind.reader, options.slotMap);
    this.writers = new SlotMap(HandleKind.writer, options.slotMap);
  }

  /** Live handles across all maps. */
  get size(): number {
    return this.sessions.size + this.readers.size + this.writers.size;
  }

  /** Live session handles. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Live reader handles. */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Live writer handles. */
  get writerCount(): number {
    return this.writers.size;
  }

  /** A body channel sized as configured for this store. */
  makeBodyChannel(): {
    /** The sending end. */
    writer: BodyWriter;
    /** The receiving end. */
    reader: BodyReader;
  } {
    return makeBodyChannel(this.channelOptions);
  }

  // ── sessions ──

  /** Registers a session and returns its handle; throws HandleLimitError when the store is full. */
  insertSession(session: SessionT): number {
    this.checkLimit();
    return this.sessions.insert(this.entry(session, undefined));
  }

  /** The session behind `h` (marks it used); throws InvalidHandleError. */
  lookupSession(h: unknown): SessionT {
    return this.touch(this.sessions.get(h)).value;
  }

  /** Removes and returns the session behind `h` without closing it; throws InvalidHandleError. */
  removeSession(h: unknown): SessionT {
    return this.sessions.remove(h).value;
  }

  /** Like removeSession, but undefined instead of an error when `h` is not live. */
  tryRemoveSession(h: unknown): SessionT | undefined {
    return this.sessions.tryRemove(h)?.value;
  }

  /** Runs `fn` on the session behind `h`, which is busy (never swept) until `fn` settles. */
  useSession<R>(h: unknown, fn: (session: SessionT) => Promise<R>): Promise<R> {
    return this.use(this.sessions.get(h), fn);
  }

  // ── readers ──

  /** Registers a body reader (of `options.session`, if given) and returns its handle; throws HandleLimitError when full. */
  insertReader(reader: BodyReader, options?: ChildOptions): number {
    this.checkLimit();
    return this.readers.insert(this.entry(reader, options));
  }

  /** The reader behind `h` (marks it used); throws InvalidHandleError. */
  lookupReader(h: unknown): BodyReader {
    return this.touch(this.readers.get(h)).value;
  }

  /** Removes and returns the reader behind `h` without cancelling it; throws InvalidHandleError. */
  removeReader(h: unknown): BodyReader {
    return this.readers.remove(h).value;
  }

  /** Like removeReader, but undefined instead of an error when `h` is not live. */
  tryRemoveReader(h: unknown): BodyReader | undefined {
    return this.readers.tryRemove(h)?.value;
  }

  /** Runs `fn` on the reader behind `h`, which is busy (never swept) until `fn` settles. */
  useReader<R>(h: unknown, fn: (reader: BodyReader) => Promise<R>): Promise<R> {
    return this.use(this.readers.get(h), fn);
  }

  // ── writers ──

  /** Registers a body writer (of `options.session`, if given) and returns its handle; throws HandleLimitError when full. */
  insertWriter(writer: BodyWriter, options?: ChildOptions): number {
    this.checkLimit();
    return this.writers.insert(this.entry(writer, options));
  }

  /** The writer behind `h` (marks it used); throws InvalidHandleError. */
  lookupWriter(h: unknown): BodyWriter {
    return this.touch(this.writers.get(h)).value;
  }

  /** Removes and returns the writer behind `h` without aborting it; throws InvalidHandleError. */
  removeWriter(h: unknown): BodyWriter {
    return this.writers.remove(h).value;
  }

  /** Like removeWriter, but undefined instead of an error when `h` is not live. */
  tryRemoveWriter(h: unknown): BodyWriter | undefined {
    return this.writers.tryRemove(h)?.value;
  }

  /** Runs `fn` on the writer behind `h`, which is busy (never swept) until `fn` settles. */
  useWriter<R>(h: unknown, fn: (writer: BodyWriter) => Promise<R>): Promise<R> {
    return this.use(this.writers.get(h), fn);
  }

  // ── all-or-nothing inserts ──

  /** A guard whose inserts are undone by `rollback()` unless `commit()` comes first. */
  insertGuard(): InsertGuard {
    return new InsertGuard(this);
  }

  /**
   * Runs `fn` with a fresh guard. If `fn` throws (or its promise rejects) the guard rolls back and
   * the error propagates; if it returns without calling `commit()` the guard also rolls back and
   * the value is returned as is (the handles it holds are then dead).
   */
  async withInsertGuard<R>(fn: (guard: InsertGuard) => R | Promise<R>): Promise<R> {
    const guard = this.insertGuard();
    try {
      const result = await fn(guard);
      if (!guard.committed) guard.rollback();
      return result;
    } catch (e) {
      guard.rollback();
      throw e;
    }
  }

  // ── idle sweep ──

  /**
   * Removes every entry idle for longer than the TTL (not busy, last used before now - TTL),
   * closing it (writers aborted, readers cancelled with code 0, sessions to `closeSession`).
   */
  sweep(now: number = this.clock()): SweepResult {
    const deadline = now - this.idleTtlMs;
    const idle = (e: Entry<unknown>): boolean => e.pins === 0 && e.lastUsed < deadline;
    return this.removeWhere(idle, 'idle timeout');
  }

  /** Removes and closes every entry (endpoint shutdown). */
  closeAll(): SweepResult {
    this.stopSweeper();
    return this.removeWhere(() => true, 'handle store closed');
  }

  /** Sweeps every `intervalMs` (default TTL/4) on an unref'd timer until `stopSweeper()`. */
  startSweeper(intervalMs: number = Math.max(1000, this.idleTtlMs / 4)): void {
    this.stopSweeper();
    this.sweeper = setInterval(() => this.sweep(), intervalMs);
    this.sweeper.unref();
  }

  /** Stops the timer `startSweeper` started (if any). */
  stopSweeper(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  // ── internals shared with InsertGuard ──

  /** @internal */
  removeAndClose(kind: 'reader' | 'writer', h: number, why: string): void {
    if (kind === 'reader') this.readers.tryRemove(h)?.value.cancel(0, why);
    else this.writers.tryRemove(h)?.value.abort(0, why);
  }

  private removeWhere(pred: (e: Entry<unknown>) => boolean, why: string): SweepResult {
    const result: SweepResult = { sessions: [], readers: [], writers: [] };
    // Collect first, then remove: closing may run code that touches the maps.
    const readers = [...this.readers].filter(([, e]) => pred(e));
    const writers = [...this.writers].filter(([, e]) => pred(e));
    const sessions = [...this.sessions].filter(([, e]) => pred(e));
    for (const [h, e] of readers) {
      this.readers.remove(h);
      result.readers.push(h);
      e.value.cancel(0, why);
    }
    for (const [h, e] of writers) {
      this.writers.remove(h);
      result.writers.push(h);
      e.value.abort(0, why);
    }
    for (const [h, e] of sessions) {
      this.sessions.remove(h);
      result.sessions.push(h);
      try {
        this.closeSessionHook?.(e.value);
      } catch {
        // A failing hook must not stop the sweep or leave other entries behind.
      }
    }
    return result;
  }

  private checkLimit(): void {
    if (this.size >= this.maxHandles) throw new HandleLimitError(this.maxHandles);
  }

  private entry<V>(value: V, options: ChildOptions | undefined): Entry<V> {
    const parent = options?.session === undefined ? undefined : this.sessions.get(options.session);
    return { value, lastUsed: this.clock(), pins: 0, parent };
  }

  private touch<V>(e: Entry<V>): Entry<V> {
    const now = this.clock();
    e.lastUsed = now;
    if (e.parent) e.parent.lastUsed = now;
    return e;
  }

  private async use<V, R>(e: Entry<V>, fn: (value: V) => Promise<R>): Promise<R> {
    this.touch(e);
    e.pins++;
    if (e.parent) e.parent.pins++;
    try {
      return await fn(e.value);
    } finally {
      e.pins--;
      if (e.parent) e.parent.pins--;
      this.touch(e);
    }
  }
}

/**
 * Collects inserts that must all succeed together (a bidirectional stream needs a reader and a
 * writer handle). JavaScript has no destructor, so the owner calls `commit()` on success and
 * `rollback()` otherwise (or uses `HandleStore.withInsertGuard`). Rollback removes every handle
 * inserted through the guard and closes its channel end (reader cancelled, writer aborted, code 0),
 * as dropping the guard drops the channel in iroh-http's Rust store.
 */
export class InsertGuard {
  private readonly inserted: { kind: 'reader' | 'writer'; handle: number }[] = [];
  private state: 'open' | 'committed' | 'rolled-back' = 'open';

  /** @internal */
  constructor(private readonly store: GuardHost) {}

  /** True once `commit()` was called: the inserts stand. */
  get committed(): boolean {
    return this.state === 'committed';
  }

  /** Handles inserted so far. */
  get handles(): number[] {
    return this.inserted.map((i) => i.handle);
  }

  /** Inserts a reader into the store, to be removed again by `rollback()`. */
  insertReader(reader: BodyReader, options?: ChildOptions): number {
    this.checkOpen();
    const handle = this.store.insertReader(reader, options);
    this.inserted.push({ kind: 'reader', handle });
    return handle;
  }

  /** Inserts a writer into the store, to be removed again by `rollback()`. */
  insertWriter(writer: BodyWriter, options?: ChildOptions): number {
    this.checkOpen();
    const handle = this.store.insertWriter(writer, options);
    this.inserted.push({ kind: 'writer', handle });
    return handle;
  }

  /** Keeps the inserts. */
  commit(): void {
    this.checkOpen();
    this.state = 'committed';
  }

  /** Removes and closes the inserts. No-op after commit or a previous rollback. */
  rollback(): void {
    if (this.state !== 'open') return;
    this.state = 'rolled-back';
    for (const { kind, handle } of this.inserted.splice(0).reverse()) {
      this.store.removeAndClose(kind, handle, 'insert rolled back');
    }
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new Error(`insert guard already ${this.state}`);
  }
}

/** What a guard needs of its store. */
interface GuardHost {
  insertReader(reader: BodyReader, options?: ChildOptions): number;
  insertWriter(writer: BodyWriter, options?: ChildOptions): number;
  removeAndClose(kind: 'reader' | 'writer', h: number, why: string): void;
}

interface Entry<V> {
  value: V;
  /** Clock time of the last use. */
  lastUsed: number;
  /** Running `use*` calls on this entry (or on its children, for a session). */
  pins: number;
  /** The owning session's entry, for readers and writers that named one. */
  parent: Entry<unknown> | undefined;
}
