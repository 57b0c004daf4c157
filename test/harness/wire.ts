import { initialKeys } from '../../src/quic/crypto/initial.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { FrameContext } from '../../src/quic/frames/types.js';
import { LongPacketType, tryParsePacketHeader } from '../../src/quic/packet/header.js';
import { openPacket } from '../../src/quic/packet/protection.js';
import type { Side, TracedDatagram } from './pair.js';

/**
 * Reading traced datagrams the way an observer on the wire can: packet types and sizes from the
 * headers, and the frames of Initial packets (their keys derive from the client's first DCID,
 * RFC 9001 §5.2), which is what handshake tests assert on.
 */
export type PacketKind = 'initial' | 'handshake' | '0rtt' | 'retry' | '1rtt' | 'other';

export interface WirePacket {
  readonly kind: PacketKind;
  /** Bytes of this packet within the datagram. */
  readonly size: number;
  /** Frames, for Initial packets whose keys are known (otherwise undefined). */
  readonly frames: Frame[] | undefined;
}

const LONG_KINDS: Record<number, PacketKind> = {
  [LongPacketType.Initial]: 'initial',
  [LongPacketType.ZeroRtt]: '0rtt',
  [LongPacketType.Handshake]: 'handshake',
};

/**
 * The packets of a datagram. `initialDcid` (the client's first DCID) lets Initial packets be
 * opened; `localCidLength` is the short-header DCID length of the receiver.
 */
export function packetsOf(d: TracedDatagram, initialDcid?: Uint8Array, localCidLength = 8): WirePacket[] {
  const bytes = d.bytes.slice(); // header protection is removed in place
  const out: WirePacket[] = [];
  let at = 0;
  while (at < bytes.length) {
    const h = tryParsePacketHeader(bytes, at, localCidLength);
    if (h.kind === 'invalid') break;
    if (h.kind === 'retry') {
      out.push({ kind: 'retry', size: h.end - h.start, frames: undefined });
      break;
    }
    if (h.kind === 'short') {
      out.push({ kind: '1rtt', size: h.end - h.start, frames: undefined });
      break;
    }
    if (h.kind !== 'long') {
      out.push({ kind: 'other', size: bytes.length - at, frames: undefined });
      break;
    }
    const kind = LONG_KINDS[h.type] ?? 'other';
    let frames: Frame[] | undefined;
    if (kind === 'initial' && initialDcid) {
      const keys = initialKeys(initialDcid, d.from === 'server').read;
      const opened = openPacket(bytes, h, keys.header, keys.packet, -1);
      if (opened) frames = decodeFrames(opened.payload, FrameContext.Initial);
    }
    out.push({ kind, size: h.end - h.start, frames });
    at = h.end;
  }
  return out;
}

/** Whether any frame in `frames` elicits an acknowledgment (RFC 9000 §13.2: not ACK, PADDING, CONNECTION_CLOSE). */
export function isAckEliciting(frames: readonly Frame[]): boolean {
  return frames.some((f) => f.kind !== 'ack' && f.kind !== 'padding' && f.kind !== 'connectionClose');
}

/** The traced datagrams of `side`. */
export function sentBy(trace: readonly TracedDatagram[], side: Side): TracedDatagram[] {
  return trace.filter((d) => d.from === side);
}

/** A compact description ("I+H", "1") of a datagram's packets, for failure messages. */
export function describe(d: TracedDatagram): string {
  const short: Record<PacketKind, string> = { initial: 'I', handshake: 'H', '0rtt': '0', retry: 'R', '1rtt': '1', other: '?' };
  return `${d.from}@${d.at}:${d.bytes.length}:${packetsOf(d).map((p) => short[p.kind]).join('+')}`;
}
