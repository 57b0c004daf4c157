import type { Connection } from '../../src/quic/connection/connection.js';
import { TransportErrorCode, transportErrorName } from '../../src/quic/errors.js';
import { frameTypeName } from '../../src/quic/frames/types.js';
import { MAX_BUFFERED_PACKETS } from '../../src/quic/connection/receive.js';
import { MAX_RESPONSES } from '../../src/quic/connection/paths.js';

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

export { sealFrom } from '../harness/inject.js';

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
  const { config: cfg, receiver, spaces, paths, datagrams, remoteCids, streams, events } = c.internals;
  const fail = (what: string): never => {
    throw new Finding('unbounded', `${who}: ${what}`);
  };
  if (receiver.bufferedCount > MAX_BUFFERED_PACKETS) fail(`${receiver.bufferedCount} packets buffered awaiting keys > ${MAX_BUFFERED_PACKETS}`);
  for (const sp of spaces.all) {
    if (sp.crypto.bufferedBytes > cfg.maxCryptoBuffer) {
      fail(`space ${sp.space}: ${sp.crypto.bufferedBytes} CRYPTO bytes buffered out of order > maxCryptoBuffer ${cfg.maxCryptoBuffer}`);
    }
    const ranges = sp.ack.receivedRanges().length;
    if (ranges > cfg.maxAckRanges) fail(`space ${sp.space}: ${ranges} ACK ranges tracked > maxAckRanges ${cfg.maxAckRanges}`);
  }
  for (const p of paths.all()) {
    if (p.responsesOwed > MAX_RESPONSES) fail(`${p.responsesOwed} PATH_RESPONSEs queued for ${p.address}`);
  }
  if (datagrams.receivedCount > cfg.datagramRecvQueue) fail(`${datagrams.receivedCount} datagrams queued > ${cfg.datagramRecvQueue}`);
  if (remoteCids.activeCount > cfg.activeConnectionIdLimit) {
    fail(`${remoteCids.activeCount} peer CIDs kept > active_connection_id_limit ${cfg.activeConnectionIdLimit}`);
  }
  const s = cfg.streams;
  const maxStreams = s.maxConcurrentBidiStreams + s.maxConcurrentUniStreams + 8;
  if (streams.size > maxStreams) fail(`${streams.size} streams > ${maxStreams}`);
  let total = 0;
  for (let id = 0; id < 4 * maxStreams + 4; id++) {
    const recv = streams.get(id)?.recv;
    if (!recv) continue;
    const held = recv.highestOffset - recv.readOffset;
    if (held > s.maxStreamWindow) fail(`stream ${id} holds ${held} bytes > maxStreamWindow ${s.maxStreamWindow}`);
    // The ring rounds up; twice the window is the most a correct one can reach.
    if (recv.bufferCapacity > 2 * s.maxStreamWindow + 65536) fail(`stream ${id} buffer of ${recv.bufferCapacity} bytes`);
    total += held;
  }
  if (total > s.maxConnectionWindow) fail(`streams hold ${total} bytes > maxConnectionWindow ${s.maxConnectionWindow}`);
  if (events.length > 10_000) fail(`${events.length} undrained events`);
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
