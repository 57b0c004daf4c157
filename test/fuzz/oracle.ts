import type { Connection } from '../../src/quic/connection.js';
import { Writer } from '../../src/quic/codec/writer.js';
import { TransportErrorCode, transportErrorName } from '../../src/quic/errors.js';
import { frameTypeName } from '../../src/quic/frames/types.js';
import { LongPacketType, writeLongHeader, writeShortHeader } from '../../src/quic/packet/header.js';
import { packetNumberLength } from '../../src/quic/packet/number.js';
import { sealPacket } from '../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { PacketSpace } from '../../src/quic/recovery/constants.js';
import { PacketTokens } from '../../src/quic/recovery-tokens.js';
import { MAX_BUFFERED_PACKETS } from '../../src/quic/connection-core.js';

/**
 * What the fuzzer holds true of a connection fed hostile input, and the helper that seals a
 * mutated payload with a sender's live keys.
 */

/** A violated property: the fuzzer writes a reproducer and fails. */
export class Finding extends Error {
  override readonly name = 'Finding';
  constructor(readonly kind: string, message: string) {
    super(`${kind}: ${message}`);
  }
}

/**
 * Seals `payload` as the next packet of `space` from `c`, with its current keys, packet number
 * and connection IDs (the way test/harness/inject.ts does, but returning the bytes): the receiver
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
  if (!c.keys.canWrite(space) || c.spaces[space]!.discarded) return undefined;
  const sp = c.spaces[space]!;
  const pn = sp.nextPn + pnSkip;
  if (!dryRun) sp.nextPn = pn + 1;
  const out = new Uint8Array(Math.max(padTo, payload.length + 128));
  const w = new Writer(out);
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
          // The Length field must hold the whole (possibly oversized) mutated payload.
          payload.length + pnLen + 16 < 0x3fff ? 2 : 4,
        );
  w.bytesOf(payload);
  // RFC 9000 §14.1: client Initials travel in datagrams of at least 1200 bytes; PADDING after the
  // mutated frames only adds frames the receiver skips.
  if (padTo > 0 && w.pos < padTo - 16) w.zeros(padTo - 16 - w.pos);
  const end = sealPacket(w, marks, pn, c.keys.writeKeys(space));
  if (dryRun) return out.slice(0, end);
  // Recorded as sent (not ack-eliciting, not in flight) so the receiver's ACK of it is legitimate.
  const record = new PacketTokens();
  record.pn = pn;
  record.timeSent = now;
  record.size = end;
  c.loss.onPacketSent(space, record);
  if (space === PacketSpace.Application) c.keys.onOneRttSent(pn);
  return out.slice(0, end);
}

/** RFC 9000 §20.1 codes and the CRYPTO_ERROR range (RFC 9001 §4.8). */
export function isDefinedTransportCode(code: number | bigint): boolean {
  const n = Number(code);
  return (n >= 0 && n <= TransportErrorCode.NO_VIABLE_PATH) || (n >= 0x100 && n <= 0x1ff);
}

/**
 * The outcome of an input for a connection, and the close-reason property: a connection that
 * closes itself because of peer input does so with a defined transport error code, never with
 * INTERNAL_ERROR (which is what a JavaScript exception inside the core becomes).
 */
export function closeOutcome(c: Connection, who: string): string | undefined {
  const r = c.closeInfo;
  if (!r) return undefined;
  if (r.remote) return `${who}:remote-${r.kind}`;
  if (r.kind !== 'transport') return `${who}:${r.kind}`;
  if (Number(r.code) === TransportErrorCode.INTERNAL_ERROR) {
    throw new Finding('internal-error', `${who} closed with INTERNAL_ERROR (an exception inside the core): ${r.reason}`);
  }
  if (!isDefinedTransportCode(r.code)) {
    throw new Finding('undefined-code', `${who} closed with undefined transport error code ${String(r.code)}: ${r.reason}`);
  }
  const ft = r.frameType ? `/${frameTypeName(r.frameType)}` : '';
  return `${who}:${transportErrorName(Number(r.code))}${ft}`;
}

/**
 * Resource bounds: whatever a peer can make a connection keep stays under the configured caps
 * (RFC 9000 §4 flow control, §7.5 CRYPTO buffer, §13.2.3 ACK ranges, §5.1.1 CIDs, §8.2 path
 * challenges, RFC 9221 §5 datagram queue, RFC 9001 §5.7 packets buffered before their keys).
 */
export function checkBounds(c: Connection, who: string): void {
  // A closed connection accepts nothing more and its state is about to go: a limit check that
  // closed it may have left the one entry over the cap that triggered it.
  if (c.isClosed) return;
  const cfg = c.config;
  const fail = (what: string): never => {
    throw new Finding('unbounded', `${who}: ${what}`);
  };
  if (c.buffered.length > MAX_BUFFERED_PACKETS) fail(`${c.buffered.length} packets buffered awaiting keys > ${MAX_BUFFERED_PACKETS}`);
  for (const sp of c.spaces) {
    if (sp.crypto.bufferedBytes > cfg.maxCryptoBuffer) {
      fail(`space ${sp.space}: ${sp.crypto.bufferedBytes} CRYPTO bytes buffered out of order > maxCryptoBuffer ${cfg.maxCryptoBuffer}`);
    }
    const ranges = sp.ack.receivedRanges().length;
    if (ranges > cfg.maxAckRanges) fail(`space ${sp.space}: ${ranges} ACK ranges tracked > maxAckRanges ${cfg.maxAckRanges}`);
  }
  if (c.pathResponses.length > 4) fail(`${c.pathResponses.length} PATH_RESPONSEs queued`);
  if (c.datagrams.receivedCount > cfg.datagramRecvQueue) fail(`${c.datagrams.receivedCount} datagrams queued > ${cfg.datagramRecvQueue}`);
  if (c.remoteCids.activeCount > cfg.activeConnectionIdLimit) {
    fail(`${c.remoteCids.activeCount} peer CIDs kept > active_connection_id_limit ${cfg.activeConnectionIdLimit}`);
  }
  const s = cfg.streams;
  const maxStreams = s.maxConcurrentBidiStreams + s.maxConcurrentUniStreams + 8;
  if (c.streams.size > maxStreams) fail(`${c.streams.size} streams > ${maxStreams}`);
  let total = 0;
  for (let id = 0; id < 4 * maxStreams + 4; id++) {
    const recv = c.streams.get(id)?.recv;
    if (!recv) continue;
    const held = recv.highestOffset - recv.readOffset;
    if (held > s.maxStreamWindow) fail(`stream ${id} holds ${held} bytes > maxStreamWindow ${s.maxStreamWindow}`);
    // The ring rounds up; twice the window is the most a correct one can reach.
    if (recv.bufferCapacity > 2 * s.maxStreamWindow + 65536) fail(`stream ${id} buffer of ${recv.bufferCapacity} bytes`);
    total += held;
  }
  if (total > s.maxConnectionWindow) fail(`streams hold ${total} bytes > maxConnectionWindow ${s.maxConnectionWindow}`);
  if (c.events.length > 10_000) fail(`${c.events.length} undrained events`);
}

/** Everything a driver does after an input: transmit until idle, drain events, fire due timers. */
export function service(c: Connection, now: number, buf: Uint8Array, sink?: (d: Uint8Array) => void): number {
  let sent = 0;
  for (let i = 0; i < 64; i++) {
    const n = c.pollTransmit(now, buf);
    if (n === 0) break;
    sent++;
    sink?.(buf.slice(0, n));
  }
  if (c.pollTimeout() <= now) c.handleTimeout(now);
  for (let e = c.pollEvent(), i = 0; e && i < 10_000; e = c.pollEvent(), i++) {
    /* drain */
  }
  return sent;
}
