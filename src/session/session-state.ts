import type { Connection } from '../quic/connection/connection.js';
import type { ConnectionHandle } from '../quic/endpoint/endpoint-core.js';
import type { CloseReason, ConnectionEvent } from '../quic/events.js';
import { StreamAbortedError, StreamWaiters, type ConnectionPort } from './stream-adapter.js';
import { SessionClosedError, connectErrorFor, describeClose } from './errors.js';
import { waitIn } from './abort.js';
import { DatagramError } from '../quic/connection/datagram-error.js';
import type { DatagramDropReason, DatagramSendReport } from '../quic/connection/datagrams.js';

/** A `sendDatagram` waiting for its datagram to leave. */
interface PendingDatagram {
  readonly id: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

const SETTLED: PendingDatagram = Object.freeze({ id: -1, resolve: () => {}, reject: () => {} });

/** What the ready promise's settle functions become once it settled (they held its executor's context). */
const SETTLED_READY = (): void => {};

/** The error of a datagram dropped before it could leave. */
function droppedError(reason: DatagramDropReason): DatagramError {
  if (reason === 'early-data-rejected') return new DatagramError('early-data-rejected', 'datagram sent in 0-RTT, which the server refused: it never arrived (see session.earlyDataAccepted)');
  return reason === 'queue-full'
    ? new DatagramError('queue-full', 'datagram dropped before it was sent: the send queue was full and newer datagrams pushed it out (transport datagramSendQueue)')
    : new DatagramError('too-large', 'datagram dropped before it was sent: the path MTU shrank below its size; check session.maxDatagramSize()');
}

/** How a session ended: the application code and reason, or 0 and a description. */
export interface CloseInfo {
  /** The application close code (0 for a clean close). */
  readonly closeCode: number | bigint;
  /** The close reason, possibly empty. */
  readonly reason: string;
}

/**
 * The state the session layer keeps for one connection: event dispatch, stream and datagram
 * waiters, the ready/closed promises. The endpoint creates one per connection (dialled or
 * incoming) and feeds it the connection's events; a `Session` wraps it for the application.
 *
 * It knows nothing of the endpoint but a function that schedules a transmit, so the endpoint and
 * the session can each be read without the other.
 * @internal
 */
export class SessionState implements ConnectionPort {
  readonly conn: Connection;
  readonly handle: ConnectionHandle;
  readonly waiters = new StreamWaiters();
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;
  /** The close reason as the connection reported it. */
  closeReason: CloseReason | undefined;
  connected = false;
  /** What to call the peer in errors (its id and address). */
  target: string;
  /** A dial: the session cache key of the server (its tickets and tokens go there). */
  resumeKey: string | undefined;
  /** An incoming session: called when its 0-RTT data is accepted (the endpoint hands it to `accept` then). */
  onEarlyDataAccepted: (() => void) | undefined;
  /** Asks the endpoint to run the transmit loop for this connection (one function shared by all). */
  private readonly scheduleTransmit: () => void;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (c: CloseInfo) => void;
  /**
   * The waits, each list made by its first waiter (an idle session has none: heap per idle
   * connection, issue [perf2]): incoming bidi and uni streams, stream credit, datagrams.
   */
  private incomingBidi: Array<() => void> | undefined;
  private incomingUni: Array<() => void> | undefined;
  private streamsAvailable: Array<() => void> | undefined;
  private datagramWaiters: Array<() => void> | undefined;
  /** `sendDatagram`s waiting for their datagram to leave, in id order (ids settle in order). */
  private datagramSends: PendingDatagram[] | undefined;
  private datagramSendsHead = 0;

  constructor(handle: ConnectionHandle, conn: Connection, target: string, scheduleTransmit: () => void) {
    this.handle = handle;
    this.conn = conn;
    this.target = target;
    this.scheduleTransmit = scheduleTransmit;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // a failed dial is reported by connect(); never an unhandled rejection
    this.closed = new Promise<CloseInfo>((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Commands were issued on the connection: run the transmit loop soon. */
  flush(): void {
    this.scheduleTransmit();
  }

  onEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case 'connected':
        this.connected = true;
        this.resolveReady();
        // Settled: neither settle function nor the early-data hand-off is called again.
        this.resolveReady = SETTLED_READY;
        this.rejectReady = SETTLED_READY;
        this.onEarlyDataAccepted = undefined;
        break;
      case 'incoming':
        // The stream waits in the connection's accept queue; wake one waiter to take it.
        (e.direction === 'bidi' ? this.incomingBidi : this.incomingUni)?.shift()?.();
        break;
      case 'streams-available':
        wakeAll(this.streamsAvailable);
        break;
      case 'datagram':
        wakeAll(this.datagramWaiters);
        break;
      case 'datagramsSent':
        this.settleDatagrams(this.conn.takeDatagramSendReport());
        break;
      case 'earlyData':
        if (e.accepted) this.onEarlyDataAccepted?.();
        break;
      case 'closed':
        this.onClosed(e.reason);
        // Only now: after a local close() the connection still sends what was queued (flush).
        this.failDatagrams();
        break;
      default:
        this.waiters.dispatch(e);
        break;
    }
  }

  /** The connection is gone (closed by either side, idle, reset...). */
  onClosed(r: CloseReason): void {
    if (this.closeInfo) return;
    this.closeReason = r;
    this.closeInfo = r.kind === 'application' ? { closeCode: r.code, reason: r.reason } : { closeCode: 0, reason: describeClose(r) };
    if (!this.connected) this.rejectReady(connectErrorFor(r, this.target, this.conn.packetsReceived > 0));
    const info = this.closeInfo;
    this.waiters.closeAll((id) => new StreamAbortedError(id, 'closed', undefined, info.reason));
    for (const f of [...(this.incomingBidi?.splice(0) ?? []), ...(this.incomingUni?.splice(0) ?? []), ...(this.streamsAvailable?.splice(0) ?? []), ...(this.datagramWaiters?.splice(0) ?? [])]) f();
    this.resolveClosed(info);
  }

  /**
   * The dial failed outside the connection (the OS refused to send to the address): `ready`
   * rejects with `error` now rather than when the connection gives up.
   */
  failDial(error: Error): void {
    if (!this.connected) this.rejectReady(error);
  }

  /**
   * Opens a stream, waiting while the peer's stream limit blocks; `signal` ends the wait (with its
   * reason, leaving no waiter).
   */
  async openStream(direction: 'bidi' | 'uni', signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    for (;;) {
      this.assertOpen();
      const id = this.conn.openStream(direction);
      if (id !== null) {
        this.flush();
        return id;
      }
      await waitIn((this.streamsAvailable ??= []), signal);
    }
  }

  /** The next stream the peer opened, or null once the session is closed; `signal` as above. */
  async nextIncoming(direction: 'bidi' | 'uni', signal?: AbortSignal): Promise<number | null> {
    signal?.throwIfAborted();
    for (;;) {
      const id = this.conn.acceptStream(direction);
      if (id !== null) return id;
      if (this.closeInfo) return null;
      await waitIn(direction === 'bidi' ? (this.incomingBidi ??= []) : (this.incomingUni ??= []), signal);
    }
  }

  /** The next datagram, or null once the session is closed; `signal` as above. */
  async nextDatagram(signal?: AbortSignal): Promise<Uint8Array | null> {
    signal?.throwIfAborted();
    for (;;) {
      const d = this.conn.recvDatagram();
      if (d) return d;
      if (this.closeInfo) return null;
      await waitIn((this.datagramWaiters ??= []), signal);
    }
  }

  /** How many waits are pending (streams, incoming streams, datagrams): for tests of aborts. */
  get pendingWaits(): number {
    return (this.streamsAvailable?.length ?? 0) + (this.incomingBidi?.length ?? 0) + (this.incomingUni?.length ?? 0) + (this.datagramWaiters?.length ?? 0);
  }

  /**
   * Resolves once datagram `id` (from `conn.sendDatagram`) has left in a packet; rejects with a
   * DatagramError if it was dropped first, or a SessionClosedError if the connection closed first.
   */
  datagramSent(id: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      (this.datagramSends ??= []).push({ id, resolve, reject });
    });
  }

  /** The connection reported what became of queued datagrams: settle their waiters. */
  private settleDatagrams(r: DatagramSendReport): void {
    const q = this.datagramSends;
    if (q === undefined) return;
    let dropIndex = 0;
    while (this.datagramSendsHead < q.length && q[this.datagramSendsHead]!.id < r.settledBelow) {
      const p = q[this.datagramSendsHead]!;
      q[this.datagramSendsHead++] = SETTLED;
      // Both lists are in id order: skip the drops of datagrams nobody waits for.
      while (dropIndex < r.dropped.length && r.dropped[dropIndex]!.id < p.id) dropIndex++;
      const drop = r.dropped[dropIndex];
      if (drop?.id === p.id) p.reject(droppedError(drop.reason));
      else p.resolve();
    }
    if (this.datagramSendsHead === q.length) {
      q.length = 0;
      this.datagramSendsHead = 0;
    } else if (this.datagramSendsHead >= 64 && this.datagramSendsHead * 2 >= q.length) {
      q.splice(0, this.datagramSendsHead);
      this.datagramSendsHead = 0;
    }
  }

  /** The connection closed: datagrams still queued will never leave. */
  private failDatagrams(): void {
    const info = this.closeInfo!;
    const pending = this.datagramSends?.splice(this.datagramSendsHead) ?? [];
    this.datagramSends = undefined;
    this.datagramSendsHead = 0;
    for (const p of pending) p.reject(new SessionClosedError(info.closeCode, `${info.reason || 'closed'} (the datagram was still queued)`));
  }

  assertOpen(): void {
    if (this.closeInfo) throw new SessionClosedError(this.closeInfo.closeCode, this.closeInfo.reason);
  }
}

/** Wakes every waiter of `list` (which may not exist yet), emptying it first. */
function wakeAll(list: Array<() => void> | undefined): void {
  if (list === undefined || list.length === 0) return;
  for (const f of list.splice(0)) f();
}
