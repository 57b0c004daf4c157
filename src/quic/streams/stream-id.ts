/**
 * Stream identifiers, RFC 9000 §2.1.
 *
 * The two low bits of a stream id give its type: bit 0x01 is the initiator (0 client, 1 server),
 * bit 0x02 the direction (0 bidirectional, 1 unidirectional). The rest (id >> 2) is the index of
 * the stream among the streams of its type, which are opened in increasing order.
 *
 * Ids are `number`s. Stream ids up to 2^62-1 can arrive on the wire; `Reader.varint()` saturates
 * anything above 2^53-1, which is far beyond every stream limit we advertise, so such an id fails
 * the limit check exactly as the true value would. `id & 3` is exact for every safe integer (the
 * ToInt32 conversion keeps the low 32 bits), `Math.floor(id / 4)` gives the index without 32-bit
 * truncation.
 */

export type Role = 'client' | 'server';
export type Direction = 'bidi' | 'uni';

/** Bit 0x01 of a stream id: set for server-initiated streams. */
export const STREAM_ID_SERVER_BIT = 0x01;
/** Bit 0x02 of a stream id: set for unidirectional streams. */
export const STREAM_ID_UNI_BIT = 0x02;

/** Which endpoint opened the stream (RFC 9000 §2.1: client ids even, server ids odd). */
export function streamInitiator(id: number): Role {
  return (id & STREAM_ID_SERVER_BIT) === 0 ? 'client' : 'server';
}

/** Bidirectional or unidirectional (RFC 9000 §2.1, bit 0x02). */
export function streamDirection(id: number): Direction {
  return (id & STREAM_ID_UNI_BIT) === 0 ? 'bidi' : 'uni';
}

export function isBidi(id: number): boolean {
  return (id & STREAM_ID_UNI_BIT) === 0;
}

export function isUni(id: number): boolean {
  return (id & STREAM_ID_UNI_BIT) !== 0;
}

/** Position of the stream among the streams of its type: 0 for the first (ids 0..3). */
export function streamIndex(id: number): number {
  return Math.floor(id / 4);
}

/** The two type bits for an (initiator, direction) pair: 0x00..0x03 (RFC 9000 Table 1). */
export function streamTypeBits(initiator: Role, direction: Direction): number {
  return (initiator === 'server' ? STREAM_ID_SERVER_BIT : 0) | (direction === 'uni' ? STREAM_ID_UNI_BIT : 0);
}

/** The id of the `index`-th stream of a type: index * 4 + type bits. */
export function streamId(index: number, initiator: Role, direction: Direction): number {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad stream index ${index}`);
  return index * 4 + streamTypeBits(initiator, direction);
}

/** True when the endpoint playing `role` opened the stream. */
export function isLocallyInitiated(id: number, role: Role): boolean {
  return streamInitiator(id) === role;
}

/** True when the endpoint playing `role` has a sending part on the stream (bidi, or its own uni). */
export function canSend(id: number, role: Role): boolean {
  return isBidi(id) || isLocallyInitiated(id, role);
}

/** True when the endpoint playing `role` has a receiving part (bidi, or the peer's uni). */
export function canReceive(id: number, role: Role): boolean {
  return isBidi(id) || !isLocallyInitiated(id, role);
}

/** The other role. */
export function peerRole(role: Role): Role {
  return role === 'client' ? 'server' : 'client';
}
