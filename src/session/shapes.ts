/**
 * The WebTransport shapes a `Session` gives what its transport provides, whatever the transport:
 * promises that can also be called (`await session.ready` as WebTransport, `await session.ready()`
 * as iroh-http) and ReadableStreams pulled from a "next" function (incoming streams, datagrams).
 */

/**
 * A promise that can also be called: `await session.ready` (WebTransport) and
 * `await session.ready()` (iroh-http's method) both work.
 */
export type CallablePromise<T> = Promise<T> & (() => Promise<T>);

/** @internal `p`, callable: calling it returns `p` itself. */
export function callablePromise<T>(p: Promise<T>): CallablePromise<T> {
  const f = (() => p) as CallablePromise<T>;
  f.then = p.then.bind(p) as Promise<T>['then'];
  f.catch = p.catch.bind(p) as Promise<T>['catch'];
  f.finally = p.finally.bind(p) as Promise<T>['finally'];
  return f;
}

/**
 * @internal A ReadableStream of what `next` yields until it yields null (highWaterMark 0: nothing
 * is taken before a reader asks). Cancelling it aborts the pending `next`, so what arrives later is
 * not taken into a stream nobody reads.
 */
export function pulling<T>(next: (signal: AbortSignal) => Promise<T | null>): ReadableStream<T> {
  const abandoned = new AbortController();
  return new ReadableStream<T>(
    {
      pull: async (c) => {
        const x = await next(abandoned.signal);
        if (x !== null) c.enqueue(x);
        else c.close();
      },
      cancel: (reason: unknown) => abandoned.abort(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * @internal `ws` itself, with the promise of every `write()` and `close()` of its writers (and of
 * its own `close()`) marked handled: whoever awaits one still gets its rejection, but one nobody
 * awaits is no unhandled rejection. Without this a fire-and-forget `writer.write(chunk)` (common
 * in WebTransport code written for browsers, which only log such rejections) on a stream the PEER
 * stops or resets, or whose session it closes, ended the Node process: peer input may not do that.
 * The error still reaches the application through every awaited write, `writer.closed` and `close()`.
 */
export function handledWrites<W extends WritableStream<Uint8Array>>(ws: W): W {
  const getWriter = ws.getWriter;
  handleMethods(ws, ['close']);
  own(ws, 'getWriter', () => handleMethods(getWriter.call(ws), ['write', 'close']));
  return ws;
}

/**
 * @internal `rs` itself, with the promise of its `pipeTo()` and of every `read()` of its readers
 * marked handled, for the reason of `handledWrites`: a `readable.pipeTo(writable)` nobody awaits
 * rejected unhandled when the peer reset the stream or closed the session, and ended the process.
 * Async iteration (`for await`) is awaited by construction and untouched.
 */
export function handledReads<R extends ReadableStream<Uint8Array>>(rs: R): R {
  const getReader = rs.getReader as (options?: unknown) => ReadableStreamDefaultReader<Uint8Array>;
  handleMethods(rs, ['pipeTo']);
  own(rs, 'getReader', (options?: unknown) => handleMethods(getReader.call(rs, options), ['read']));
  return rs;
}

/** @internal `s` with its readable's and writable's promises marked handled (`handledReads`, `handledWrites`). */
export function handledBidi<S extends { readonly readable: ReadableStream<Uint8Array>; readonly writable: WritableStream<Uint8Array> }>(s: S): S {
  handledReads(s.readable);
  handledWrites(s.writable);
  return s;
}

/** Each method of `o` named in `names` (each returns a promise) marks its promise handled. Returns `o`. */
function handleMethods<O extends object>(o: O, names: readonly string[]): O {
  for (const name of names) {
    const f = (o as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!;
    own(o, name, (...args: unknown[]) => handled(f.apply(o, args)));
  }
  return o;
}

/** `value` as `o`'s own property `name`, over its prototype's method. */
function own(o: object, name: string, value: unknown): void {
  Object.defineProperty(o, name, { configurable: true, writable: true, value });
}

/** @internal `p` itself, its rejection marked handled: whoever awaits it still gets the rejection. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

function ignore(): void {}
