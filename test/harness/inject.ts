import { Writer } from '../../src/codec/writer.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { LongPacketType, writeLongHeader, writeShortHeader } from '../../src/quic/packet/header.js';
import { packetNumberLength } from '../../src/quic/packet/number.js';
import { sealPacket } from '../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import type { Connection } from '../../src/quic/connection/connection.js';
import type { Pair, Side } from './pair.js';
import { PacketRecord } from '../../src/quic/connection/sent-packet.js';

/**
 * Test-only packet injection: seals arbitrary frame bytes into a packet of `space` with the
 * sending connection's CURRENT keys, packet number and connection IDs (read through the
 * connection's @internal state: no crypto is copied here), and hands it to the link as if the
 * connection had sent it. The peer then sees a perfectly authenticated packet whose frames are
 * whatever the test wants: malformed, forbidden, or out of protocol.
 *
 * The packet is recorded in the sender's loss detector as sent and not ack-eliciting, so the
 * peer's ACK of its number is legitimate and nothing waits for it to be acknowledged.
 */
export function injectPacket(p: Pair, from: Side, frames: Uint8Array, space: PacketSpace = PacketSpace.Application): void {
  const c = p.conn(from);
  if (!c) throw new Error(`no ${from} connection yet`);
  // RFC 9000 §14.1: a server drops a client Initial in a datagram under 1200 bytes.
  const bytes = sealFrom(c, p.now, space, frames, 0, space === PacketSpace.Initial && from === 'client' ? 1200 : 0);
  if (!bytes) throw new Error(`${from} has no write keys for space ${space}`);
  p.emit(from, bytes);
}

/**
 * Seals `payload` as the next packet of `space` from `c`, with its current keys, packet number
 * and connection IDs: the receiver
 * sees an authenticated packet whose frames are whatever the fuzzer made. `pnSkip` leaves a gap
 * in the packet numbers (ACK ranges at the receiver). Returns undefined when `c` cannot write
 * `space` (keys not there yet or discarded).
 */
export function sealFrom(
  c: Connection,
  now: number,
  space: PacketSpace,
  payload: Uint8Array,
  pnSkip = 0,
  padTo = 0,
  /** Leave the sender's state alone (a packet it never sent: forged copies for raw mutation). */
  dryRun = false,
): Uint8Array | undefined {
  const { keys, spaces, loss, remoteCids, paths } = c.internals;
  const sp = spaces.at(space);
  if (!keys.canWrite(space) || sp.discarded) return undefined;
  const pn = sp.nextPn + pnSkip;
  if (!dryRun) {
    sp.skipPns(pnSkip);
    sp.takePn();
  }
  const out = new Uint8Array(Math.max(padTo, payload.length + 128));
  const w = new Writer(out);
  const pnLen = packetNumberLength(pn, loss.largestAcked(space));
  const dcid = remoteCids.current;
  const marks =
    space === PacketSpace.Application
      ? writeShortHeader(w, dcid, pn, pnLen, keys.keyPhase)
      : writeLongHeader(
          w,
          {
            type: space === PacketSpace.Initial ? LongPacketType.Initial : LongPacketType.Handshake,
            version: QUIC_VERSION_1,
            dcid,
            scid: c.initialLocalCid,
          },
          pn,
          pnLen,
          // The Length field must hold the whole (possibly oversized) mutated payload.
          payload.length + pnLen + 16 < 0x3fff ? 2 : 4,
        );
  w.bytesOf(payload);
  // RFC 9000 §14.1: client Initials travel in datagrams of at least 1200 bytes; PADDING after the
  // mutated frames only adds frames the receiver skips.
  if (padTo > 0 && w.pos < padTo - 16) w.zeros(padTo - 16 - w.pos);
  const end = sealPacket(w, marks, pn, keys.writeKeys(space));
  if (dryRun) return out.slice(0, end);
  // Recorded as sent (not ack-eliciting, not in flight) so the receiver's ACK of it is legitimate.
  loss.onPacketSent(space, new PacketRecord(paths.current).sent(pn, now, end, false, false), paths.recovery.rtt);
  if (space === PacketSpace.Application) keys.onOneRttSent(pn);
  return out.slice(0, end);
}

/** The wire bytes of `frames`, in order. */
export function frameBytes(...frames: Frame[]): Uint8Array {
  const w = Writer.growable();
  for (const f of frames) writeFrame(w, f);
  return w.buf.slice(0, w.pos);
}
