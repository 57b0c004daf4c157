/**
 * The `ws` package, loaded on first use: `import('quic-peer')` must not touch it (the library
 * loads under Bun and Deno without it unless relays are used), so no module imports it statically
 * except as types.
 */
export async function loadWs(): Promise<typeof import('ws')> {
  return import('ws');
}

/** A ws message as one Uint8Array (ws hands a Buffer for binary messages by default). */
export function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
