/**
 * src/handles: opaque integer handles for callers across a language or worker boundary.
 * See DESIGN.md "Handles" and the seed's `HandleStore`.
 */
export * from './errors.js';
export * from './slot-map.js';
export * from './body-channel.js';
export * from './store.js';
export * from './pumps.js';
export * from './ffi.js';
export * from './endpoint-handles.js';
