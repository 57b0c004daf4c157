import { utf8 } from '../../codec/bytes.js';
import type { CloseReason } from '../events.js';
import type { Frame } from '../frames/frame.js';
import type { EventQueue } from './event-queue.js';

/** The connection's states (RFC 9000 §10: closing, draining). */
export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'terminated';

export type CloseFrame = Extract<Frame, { kind: 'connectionClose' }>;

/**
 * A connection's life and its end (RFC 9000 §10): the state, why it closed, the CONNECTION_CLOSE
 * we send while closing (§10.2.1) and when the closing or draining period ends. Every way a
 * connection ends goes through here, and each emits 'closed' once, then 'terminated' once:
 *
 * - `close`: we close (an application close or an error of the peer's): closing period;
 * - `onPeerClose`: the peer's CONNECTION_CLOSE: draining period (§10.2.2);
 * - `drain`: a stateless reset from the peer (§10.3.1): draining;
 * - `closeSilently`: the state is discarded at once, nothing is sent: idle timeout (§10.1), no
 *   common version (§6.2), no viable path (§9.3.2).
 *
 * An application may also ask to close once what it queued has left (`requestClose`): the
 * connection stays established and keeps sending until the Connection finds nothing of the
 * application's left to send, or the request's deadline passes, and then carries the close out
 * (`closeAsRequested`).
 */
export class Lifecycle {
  private st: ConnectionState = 'handshake';
  private why: CloseReason | undefined;
  private frame: CloseFrame | undefined;
  private sendPending = false;
  private deadline = Number.POSITIVE_INFINITY;
  private packetsWhileClosing = 0;
  /** Packets received before this time (ms) while closing are not answered (see `onPacketWhileClosing`). */
  private quietUntil = 0;
  /** A close that waits for the application's queued data (see the class comment). */
  private request: { readonly frame: CloseFrame; readonly reason: CloseReason; readonly deadline: number } | undefined;
  private readonly events: EventQueue;

  constructor(events: EventQueue) {
    this.events = events;
  }

  get state(): ConnectionState {
    return this.st;
  }

  /** Why the connection closed, once it did. */
  get closeReason(): CloseReason | undefined {
    return this.why;
  }

  /** Handshaking or established. */
  get isOpen(): boolean {
    return this.st === 'handshake' || this.st === 'established';
  }

  /** Closing, draining or terminated. */
  get isClosed(): boolean {
    return !this.isOpen;
  }

  get isTerminated(): boolean {
    return this.st === 'terminated';
  }

  /** When the closing or draining period ends (Infinity while open). */
  get closeDeadline(): number {
    return this.deadline;
  }

  /** The CONNECTION_CLOSE to send now, if one is due (closing state only). */
  get pendingClose(): CloseFrame | undefined {
    return this.sendPending && this.st === 'closing' ? this.frame : undefined;
  }

  /** A requested close waits for the application's queued data to leave. */
  get hasCloseRequest(): boolean {
    return this.request !== undefined;
  }

  /** When a requested close happens even with data still queued (Infinity: none requested). */
  get closeRequestDeadline(): number {
    return this.request?.deadline ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The application closes with `frame` once its queued data has left, by `deadline` at the
   * latest. The first request stands; a closed connection ignores it.
   */
  requestClose(frame: CloseFrame, reason: CloseReason, deadline: number): void {
    if (this.isClosed || this.request) return;
    this.request = { frame, reason, deadline };
  }

  /** Carries out the requested close now: the closing period begins (RFC 9000 §10.2.1). */
  closeAsRequested(now: number, pto: number): void {
    const r = this.request;
    if (r) this.close(now, r.frame, r.reason, pto);
  }

  /** The handshake completed. */
  onEstablished(): void {
    if (this.st === 'handshake') this.st = 'established';
  }

  /** We close with `frame` (RFC 9000 §10.2.1): the closing period lasts three PTOs. */
  close(now: number, frame: CloseFrame, reason: CloseReason, pto: number): void {
    if (this.isClosed) return;
    this.end(reason);
    this.frame = frame;
    this.sendPending = true;
    this.st = 'closing';
    this.deadline = now + 3 * pto;
  }

  /**
   * The peer's CONNECTION_CLOSE (RFC 9000 §10.2.2): draining, sending nothing. A connection
   * refused during its handshake (bad certificate, no ALPN...) has nothing to drain for and ends at
   * the next timeout.
   */
  onPeerClose(now: number, reason: CloseReason, handshakeComplete: boolean, pto: number): void {
    if (this.isClosed) return;
    this.end(reason);
    this.st = 'draining';
    this.deadline = handshakeComplete ? now + 3 * pto : now;
  }

  /** A stateless reset from the peer (RFC 9000 §10.3.1): draining. */
  drain(now: number, reason: CloseReason, pto: number): void {
    if (this.isClosed) return;
    this.end(reason);
    this.st = 'draining';
    this.deadline = now + 3 * pto;
  }

  /** The connection ends at once and silently (see the class comment). */
  closeSilently(reason: CloseReason): void {
    if (this.isTerminated) return;
    if (this.isOpen) this.end(reason);
    this.terminate();
  }

  /**
   * RFC 9000 §10.2.1: answer packets received while closing, at an exponentially decreasing rate
   * (the 1st, 2nd, 4th, 8th... counted), and not those that arrive within a round trip of our
   * last CONNECTION_CLOSE: the peer sent them before ours reached it (its ACKs, a HANDSHAKE_DONE
   * crossing a client's close), and answering them only repeats what is on its way. A peer that
   * missed our close keeps sending (its PTO), and its packets after the window are answered.
   */
  onPacketWhileClosing(now: number): void {
    if (now < this.quietUntil) return;
    this.packetsWhileClosing++;
    if ((this.packetsWhileClosing & (this.packetsWhileClosing - 1)) === 0) this.sendPending = true;
  }

  /** The pending CONNECTION_CLOSE went out at `now`; `roundTripMs`: what a reply to it takes. */
  onCloseSent(now: number, roundTripMs: number): void {
    this.sendPending = false;
    this.quietUntil = now + roundTripMs;
  }

  /** Ends the closing or draining period when it is over. */
  onTimeout(now: number): void {
    if ((this.st === 'closing' || this.st === 'draining') && now >= this.deadline) this.terminate();
  }

  /** No packet will be sent or accepted any more: the state can be dropped. */
  terminate(): void {
    if (this.st === 'terminated') return;
    this.st = 'terminated';
    this.events.push({ type: 'terminated' });
  }

  private end(reason: CloseReason): void {
    this.request = undefined;
    this.why = reason;
    this.events.push({ type: 'closed', reason });
  }
}

/** A transport CONNECTION_CLOSE frame (0x1c) with a short reason (it travels in one packet). */
export function transportClose(code: number, reason: string, frameType = 0): CloseFrame {
  const r = utf8(reason);
  return { kind: 'connectionClose', application: false, errorCode: code, frameType, reason: r.length > 256 ? r.subarray(0, 256) : r };
}

/** Thrown by commands on a closed connection. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  readonly reason: CloseReason | undefined;
  constructor(reason: CloseReason | undefined) {
    super(`connection closed${reason ? `: ${reason.reason || reason.kind}` : ''}`);
    this.reason = reason;
  }
}
