import type { Connection } from '../../../src/quic/connection/connection.js';
import type { ConnectionHandle, EndpointEvent } from '../../../src/quic/endpoint/endpoint-core.js';
import type { CloseReason } from '../../../src/quic/events.js';
import { Writer } from '../../../src/codec/writer.js';
import { initialKeys } from '../../../src/quic/crypto/initial.js';
import { LongPacketType, tryParsePacketHeader, writeLongHeader, type PacketHeader } from '../../../src/quic/packet/header.js';
import { sealPacket } from '../../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../../src/quic/packet/version.js';
import { FrameType } from '../../../src/quic/frames/types.js';
import { SeededRandom } from '../../../src/tls/random.js';
import type { Net } from './net.js';

/** Incoming connections an endpoint at `address` reported, in order. */
export function incoming(net: Net, address: string): Array<{ handle: ConnectionHandle; connection: Connection; remoteAddress: string }> {
  const out = [];
  for (const e of net.eventsOf(address)) if (e.type === 'incoming') out.push(e);
  return out;
}

/** Connection events of `handle` at `address`. */
export function connEvents(net: Net, address: string, handle: ConnectionHandle): Array<Extract<EndpointEvent, { type: 'connection' }>['event']> {
  const out = [];
  for (const e of net.eventsOf(address)) if (e.type === 'connection' && e.handle === handle) out.push(e.event);
  return out;
}

/** The close reason `handle` reported, if any. */
export function closeReason(net: Net, address: string, handle: ConnectionHandle): CloseReason | undefined {
  for (const e of connEvents(net, address, handle)) if (e.type === 'closed') return e.reason;
  return undefined;
}

export function header(bytes: Uint8Array, cidLen = 8): PacketHeader | { kind: 'invalid' } {
  return tryParsePacketHeader(bytes, 0, cidLen);
}

/**
 * A genuine client Initial (valid Initial protection for `dcid`) carrying one PING, padded with
 * PADDING frames so the datagram is `size` bytes.
 */
export function buildInitial(dcid: Uint8Array, scid: Uint8Array, size: number, token?: Uint8Array): Uint8Array {
  const out = new Uint8Array(size);
  const w = new Writer(out);
  const marks = writeLongHeader(w, { type: LongPacketType.Initial, version: QUIC_VERSION_1, dcid, scid, ...(token ? { token } : {}) }, 0, 1, 2);
  w.u8(FrameType.PING);
  w.zeros(size - w.pos - 16);
  sealPacket(w, marks, 0, initialKeys(dcid, true).write);
  return out;
}

/** A long header of an unknown version padded to `size` bytes. */
export function buildUnknownVersion(version: number, dcid: Uint8Array, scid: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const w = new Writer(out);
  w.u8(0xc0);
  w.u32(version);
  w.vec8(dcid);
  w.vec8(scid);
  return out;
}

/** A 1-RTT-looking packet to `dcid`, `size` bytes of seeded random after the header. */
export function buildShort(dcid: Uint8Array, size: number, seed = 1): Uint8Array {
  const out = new SeededRandom(seed).fill(new Uint8Array(size));
  if (size === 0) return out;
  out[0] = 0x40 | (out[0]! & 0x3f);
  out.set(dcid.subarray(0, size - 1), 1);
  return out;
}

export function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}
