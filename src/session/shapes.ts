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
