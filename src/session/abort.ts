/**
 * Waits of the public API that an AbortSignal ends: an aborted wait rejects with the signal's
 * reason (as fetch and node:timers/promises do) and leaves nothing behind.
 */

/**
 * Waits until `wake` is called through `waiters` (it is pushed there), or rejects with the
 * signal's reason when it aborts first. An aborted wait takes its function out of `waiters`, so
 * nothing is left behind and a later wake goes to a waiter still waiting.
 */
export function waitIn(waiters: Array<() => void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise<void>((resolve) => waiters.push(resolve));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const wake = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      const i = waiters.indexOf(wake);
      if (i >= 0) waiters.splice(i, 1);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    waiters.push(wake);
  });
}

/**
 * Settles like `p`, or rejects with the signal's reason when it aborts first, calling `onAbort`
 * (which gives up what `p` waits for). The listener is removed either way.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener('abort', aborted, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', aborted);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', aborted);
        reject(e);
      },
    );
  });
}
