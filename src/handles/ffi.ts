/**
 * FFI-shaped functions over a handle store: iroh-http's `Session` methods as free functions that
 * take and return only numbers, strings, `Uint8Array` and plain objects of those, so they can cross
 * a worker (`postMessage`) or native boundary.
 *
 * Sessions, readers and writers are named by handles from the store (see slot-map.ts). Every
 * function rejects a stale, wrong-kind, malformed or never-issued handle with InvalidHandleError
 * (async functions reject, the three synchronous ones throw). Failures of the session or endpoint
 * become ConnectionFailedError; every error has a stable `code` and a `toFfi()` plain form.
 *
 * Streams: `sessionCreateBidiStream` / `sessionNextBidiStream` return `{ readHandle, writeHandle }`;
 * the caller pulls received bytes with `nextChunk(readHandle)` (null at the end, which also frees
 * the handle) and sends with `sendChunk(writeHandle, bytes)` then `finishBody(writeHandle)` (which
 * frees the handle). Pumps (pumps.ts) move bytes between these body channels and the session's
 * WHATWG streams, so backpressure reaches QUIC flow control.
 *
 * The session is anything that satisfies `SessionLike` (iroh-http's method names); the endpoint's
 * connect/accept are passed in. This module knows no socket and no QUIC.
 */
import type { BodyReader, BodyWriter } from './body-channel.js';
import {
  BodyTooLargeError,
  ConnectionFailedError,
  HandleError,
  InvalidInputError,
  checkAppErrorCode,
  codeToFfi,
  describeValue,
} from './errors.js';
import type { AppErrorCode } from './errors.js';
import { pumpBodyToWritable, pumpReadableToBody } from './pumps.js';
import type { HandleStore } from './store.js';

/** The two halves of a bidirectional stream, as the Session exposes them. */
export interface DuplexStreams {
  /** What the peer sends on the stream. */
  readable: ReadableStream<Uint8Array>;
  /** What we send on the stream. */
  writable: WritableStream<Uint8Array>;
}

/** What a session reports when it ends. */
export interface SessionCloseInfo {
  /** The application close code (0 for a clean close). */
  closeCode: number | bigint;
  /** The close reason, possibly empty. */
  reason: string;
}

/**
 * What the FFI needs of a session: iroh-http's `Session` methods. `next*` and `recvDatagram`
 * resolve null once the session is closed; stream halves follow the pumps' error contract
 * (reset/stop errors carry the code in `code` or `streamErrorCode`; `cancel(code)`/`abort(code)`
 * send STOP_SENDING/RESET_STREAM with it, as the pumps expect). quic-peer's `Session` satisfies it.
 */
export interface SessionLike {
  /** Opens a bidirectional stream. */
  createBidiStream(): Promise<DuplexStreams>;
  /** The next bidirectional stream the peer opens, or null once the session is closed. */
  nextBidiStream(): Promise<DuplexStreams | null>;
  /** Opens a unidirectional (send-only) stream. */
  createUniStream(): Promise<WritableStream<Uint8Array>>;
  /** The next unidirectional stream the peer opens, or null once the session is closed. */
  nextUniStream(): Promise<ReadableStream<Uint8Array> | null>;
  /** Sends one unreliable datagram (at most `maxDatagramSize()` bytes, checked before the call). */
  sendDatagram(data: Uint8Array): void | Promise<void>;
  /** The next datagram received, or null once the session is closed. */
  recvDatagram(): Promise<Uint8Array | null>;
  /** Largest datagram payload now, or null when the peer does not accept datagrams. */
  maxDatagramSize(): number | null;
  /** Closes with an application code (already validated to [0, 2^62-1]) and reason. */
  close(closeCode: AppErrorCode, reason: string): void;
  /** Resolves when the session has closed, by either side. */
  closed(): Promise<SessionCloseInfo>;
}

/** What {@link createHandleFfi} builds on: a store and the endpoint's way to get sessions. */
export interface HandleFfiOptions<S extends SessionLike> {
  /** The store the handles are issued from (its limits and idle sweep apply). */
  store: HandleStore<S>;
  /** The endpoint's connect: `remote` is an endpoint id, ticket or address string. */
  connect: (remote: string, options: { directAddrs: string[] }) => Promise<S>;
  /** The endpoint's accept: null once the endpoint is closing. */
  accept: () => Promise<S | null>;
}

/** Handles of a stream's two body channels. */
export interface FfiDuplexStream {
  /** Pull what the peer sends with `nextChunk(readHandle)`. */
  readHandle: number;
  /** Send with `sendChunk(writeHandle, bytes)`, then `finishBody(writeHandle)`. */
  writeHandle: number;
}

/** Close information: `closeCode` is a number, or a decimal string above 2^53-1. */
export interface FfiCloseInfo {
  /** The application close code (0 for a clean close). */
  closeCode: number | string;
  /** The close reason, possibly empty. */
  reason: string;
}

/**
 * iroh-http's session methods as functions of handles. A handle that is stale, of the wrong kind,
 * malformed or never issued is rejected with an InvalidHandleError (thrown by the synchronous
 * functions); a failure of the session or endpoint is a ConnectionFailedError.
 */
export interface HandleFfi {
  /** Dials `remote` (endpoint id, `id@ip:port` or ticket), also trying `directAddrs`; resolves with a session handle. */
  sessionConnect(remote: string, directAddrs?: string[]): Promise<number>;
  /** The next incoming session's handle, or null once the endpoint is closing. */
  sessionAccept(): Promise<number | null>;
  /** Opens a bidirectional stream on the session: a reader handle and a writer handle. */
  sessionCreateBidiStream(session: number): Promise<FfiDuplexStream>;
  /** The next bidirectional stream the peer opens, or null once the session is closed. */
  sessionNextBidiStream(session: number): Promise<FfiDuplexStream | null>;
  /** Opens a unidirectional stream on the session: a writer handle. */
  sessionCreateUniStream(session: number): Promise<number>;
  /** The reader handle of the next unidirectional stream the peer opens, or null once the session is closed. */
  sessionNextUniStream(session: number): Promise<number | null>;
  /** Sends a datagram; a BodyTooLargeError when it is over `sessionMaxDatagramSize` or the peer takes none. */
  sessionSendDatagram(session: number, data: Uint8Array): Promise<void>;
  /** The next datagram, or null once the session is closed. */
  sessionRecvDatagram(session: number): Promise<Uint8Array | null>;
  /** The largest datagram payload that can be sent now, or null when the peer accepts none. */
  sessionMaxDatagramSize(session: number): number | null;
  /** Closes the session with an application code (up to 2^62-1) and reason, and frees its handle. */
  sessionClose(session: number, closeCode: number | bigint, reason: string): void;
  /** Resolves when the session has closed (either side), then frees its handle. */
  sessionClosed(session: number): Promise<FfiCloseInfo>;
  /** The next chunk of a received body, or null at its end (which frees the handle). */
  nextChunk(readHandle: number): Promise<Uint8Array | null>;
  /** Sends a chunk on a body; resolves when the channel has room again (backpressure). */
  sendChunk(writeHandle: number, chunk: Uint8Array): Promise<void>;
  /** Ends a body cleanly (a FIN once the queued chunks are out) and frees the handle. */
  finishBody(writeHandle: number): void;
  /** Stops reading a body: the peer is asked to stop sending (STOP_SENDING with `code`, default 0); frees the handle. */
  cancelBody(readHandle: number, code?: number | bigint): void;
  /** Abandons a body being sent (RESET_STREAM with `code`, default 0); frees the handle. */
  abortBody(writeHandle: number, code?: number | bigint): void;
}

/** Builds the FFI functions over `store`, using the endpoint's `connect` and `accept`. */
export function createHandleFfi<S extends SessionLike>(options: HandleFfiOptions<S>): HandleFfi {
  if (typeof options !== 'object' || options === null || typeof options.store !== 'object' || options.store === null) {
    throw new InvalidInputError(`createHandleFfi: options must be an object { store, connect?, accept? }, got ${describeValue(options)}`);
  }
  const { store, connect, accept } = options;

  /** Registers a session, closing it if the store is full so it does not leak. */
  const register = (session: S): number => {
    try {
      return store.insertSession(session);
    } catch (e) {
      safely(() => session.close(0, 'handle limit reached'));
      throw e;
    }
  };

  /** Gives a bidirectional stream two handles (all or nothing) and starts its pumps. */
  const wrapDuplex = (session: number, streams: DuplexStreams): FfiDuplexStream => {
    const recv = store.makeBodyChannel();
    const send = store.makeBodyChannel();
    const guard = store.insertGuard();
    let handles: FfiDuplexStream;
    try {
      const readHandle = guard.insertReader(recv.reader, { session });
      const writeHandle = guard.insertWriter(send.writer, { session });
      guard.commit();
      handles = { readHandle, writeHandle };
    } catch (e) {
      guard.rollback();
      discardReadable(streams.readable);
      discardWritable(streams.writable);
      throw e;
    }
    startPumpIn(streams.readable, recv.writer);
    startPumpOut(send.reader, streams.writable);
    return handles;
  };

  return {
    async sessionConnect(remote, directAddrs = []) {
      if (typeof remote !== 'string' || remote === '') throw new InvalidInputError('remote must be a non-empty string');
      if (!Array.isArray(directAddrs) || !directAddrs.every((a) => typeof a === 'string')) {
        throw new InvalidInputError('directAddrs must be an array of strings');
      }
      const session = await failing('connect session', () => connect(remote, { directAddrs: [...directAddrs] }));
      return register(session);
    },

    async sessionAccept() {
      const session = await failing('accept session', accept);
      return session === null ? null : register(session);
    },

    async sessionCreateBidiStream(h) {
      const streams = await store.useSession(h, (s) => failing('open bidirectional stream', () => s.createBidiStream()));
      return wrapDuplex(h, streams);
    },

    async sessionNextBidiStream(h) {
      const streams = await store.useSession(h, (s) => failing('accept bidirectional stream', () => s.nextBidiStream()));
      return streams === null ? null : wrapDuplex(h, streams);
    },

    async sessionCreateUniStream(h) {
      const writable = await store.useSession(h, (s) => failing('open unidirectional stream', () => s.createUniStream()));
      const { writer, reader } = store.makeBodyChannel();
      let writeHandle: number;
      try {
        writeHandle = store.insertWriter(writer, { session: h });
      } catch (e) {
        discardWritable(writable);
        throw e;
      }
      startPumpOut(reader, writable);
      return writeHandle;
    },

    async sessionNextUniStream(h) {
      const readable = await store.useSession(h, (s) => failing('accept unidirectional stream', () => s.nextUniStream()));
      if (readable === null) return null;
      const { writer, reader } = store.makeBodyChannel();
      let readHandle: number;
      try {
        readHandle = store.insertReader(reader, { session: h });
      } catch (e) {
        discardReadable(readable);
        throw e;
      }
      startPumpIn(readable, writer);
      return readHandle;
    },

    async sessionSendDatagram(h, data) {
      const session = store.lookupSession(h);
      if (!(data instanceof Uint8Array)) throw new InvalidInputError(`a datagram must be a Uint8Array, got ${describeValue(data)}`);
      // RFC 9221 §5: a DATAGRAM frame must fit in one packet; the session knows the current limit.
      const max = session.maxDatagramSize();
      if (max === null || data.length > max) throw new BodyTooLargeError(data.length, max, 'datagram');
      await failing('send datagram', () => session.sendDatagram(data));
    },

    async sessionRecvDatagram(h) {
      return store.useSession(h, (s) => failing('receive datagram', () => s.recvDatagram()));
    },

    sessionMaxDatagramSize(h) {
      return store.lookupSession(h).maxDatagramSize();
    },

    sessionClose(h, closeCode, reason) {
      // Validate everything before removing, so a bad argument leaves the session registered.
      store.lookupSession(h);
      const code = checkAppErrorCode(closeCode, 'close code');
      if (typeof reason !== 'string') throw new InvalidInputError(`reason must be a string, got ${describeValue(reason)}`);
      store.removeSession(h).close(code, reason);
    },

    async sessionClosed(h) {
      const info = await store.useSession(h, (s) => failing('wait for session close', () => s.closed()));
      // The connection is gone: free its handle, as iroh-http does (it may already be removed).
      store.tryRemoveSession(h);
      return { closeCode: closeCodeToFfi(info.closeCode), reason: String(info.reason) };
    },

    async nextChunk(h) {
      return store.useReader(h, async (reader) => {
        try {
          const chunk = await reader.next();
          // The end frees the handle: a body read to completion leaves nothing behind.
          if (chunk === null) store.tryRemoveReader(h);
          return chunk;
        } catch (e) {
          store.tryRemoveReader(h);
          throw e;
        }
      });
    },

    async sendChunk(h, chunk) {
      store.lookupWriter(h);
      if (!(chunk instanceof Uint8Array)) throw new InvalidInputError(`a chunk must be a Uint8Array, got ${describeValue(chunk)}`);
      return store.useWriter(h, (writer) => writer.send(chunk));
    },

    finishBody(h) {
      store.removeWriter(h).finish();
    },

    cancelBody(h, code = 0) {
      store.lookupReader(h);
      const checked = checkAppErrorCode(code, 'cancel code');
      store.removeReader(h).cancel(checked, 'cancelled by the caller');
    },

    abortBody(h, code = 0) {
      store.lookupWriter(h);
      const checked = checkAppErrorCode(code, 'abort code');
      store.removeWriter(h).abort(checked, 'aborted by the caller');
    },
  };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** Runs a session/endpoint operation; anything but a HandleError becomes ConnectionFailedError. */
async function failing<T>(what: string, op: () => T | Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof HandleError) throw e;
    throw new ConnectionFailedError(`${what} failed`, e);
  }
}

function startPumpIn(readable: ReadableStream<Uint8Array>, writer: BodyWriter): void {
  void pumpReadableToBody(readable, writer);
}

function startPumpOut(reader: BodyReader, writable: WritableStream<Uint8Array>): void {
  void pumpBodyToWritable(reader, writable);
}

/** A stream we could not register: stop it with code 0 (STOP_SENDING / RESET_STREAM). */
function discardReadable(readable: ReadableStream<Uint8Array>): void {
  readable.cancel(0).catch(() => {});
}

function discardWritable(writable: WritableStream<Uint8Array>): void {
  writable.abort(0).catch(() => {});
}

function closeCodeToFfi(code: number | bigint): number | string {
  try {
    return codeToFfi(checkAppErrorCode(code));
  } catch {
    // A session reporting an out-of-range code is a bug elsewhere; still report it faithfully.
    return String(code);
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort
  }
}
