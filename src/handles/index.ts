/**
 * `quic-peer/handles`: the same sessions behind opaque integer handles, for callers across a
 * language or worker boundary (the shape of iroh-http's `HandleStore`). A handle is a safe integer
 * (a slot index, its kind and a generation bumped on removal), so a stale or wrong-kind handle is
 * an error, never another object. Body channels are bounded queues of chunks with backpressure;
 * pumps move bytes between them and the sessions' streams; a handle limit and an idle sweep bound
 * what a leaking caller can hold. The FFI-shaped functions take and return only numbers, strings
 * and `Uint8Array`, so they can cross a worker or native boundary.
 */
export * from './errors.js';
export * from './slot-map.js';
export * from './body-channel.js';
export * from './store.js';
export * from './pumps.js';
export * from './ffi.js';
export * from './endpoint-handles.js';
