import { Writer } from '../../src/quic/codec/writer.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { LongPacketType, writeLongHeader, writeShortHeader } from '../../src/quic/packet/header.js';
import { packetNumberLength } from '../../src/quic/packet/number.js';
import { sealPacket } from '../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { PacketSpace } from '../../src/quic/recovery/constants.js';
import type { Pair, Side } from './pair.js';
import { PacketTokens } from '../../src/quic/recovery-tokens.js';

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
  if (!c.keys.canWrite(space)) throw new Error(`${from} has no write keys for space ${space}`);
  const sp = c.spaces[space]!;
  const out = new Uint8Array(1500);
  const w = new Writer(out);
  const pn = sp.nextPn++;
  const pnLen = packetNumberLength(pn, c.loss.largestAcked(space));
  const dcid = c.remoteCids.current;
  const marks =
    space === PacketSpace.Application
      ? writeShortHeader(w, dcid, pn, pnLen, c.keys.keyPhase)
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
          2,
        );
  w.bytesOf(frames);
  // RFC 9000 §14.1: a server drops a client Initial in a datagram under 1200 bytes.
  if (space === PacketSpace.Initial && from === 'client' && w.pos < 1200 - 16) w.zeros(1200 - 16 - w.pos);
  const end = sealPacket(w, marks, pn, c.keys.writeKeys(space));
  c.loss.onPacketSent(space, { pn, timeSent: p.now, size: end, ackEliciting: false, inFlight: false, tokens: new PacketTokens() });
  if (space === PacketSpace.Application) c.keys.onOneRttSent(pn);
  p.emit(from, out.subarray(0, end));
}

/** The wire bytes of `frames`, in order. */
export function frameBytes(...frames: Frame[]): Uint8Array {
  const w = Writer.growable();
  for (const f of frames) writeFrame(w, f);
  return w.buf.slice(0, w.pos);
}
