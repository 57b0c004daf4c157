import type { ConnectionStats } from '../quic/connection/stats.js';
import { DatagramError } from '../quic/connection/datagram-error.js';
import { EndpointId } from '../tls/identity.js';
import { InvalidArgumentError, SessionClosedError } from './errors.js';
import type { SessionHost } from './session-host.js';
import type { CloseInfo, SessionState } from './session-state.js';
import type { BidirectionalStream, SessionKind, SessionTransport } from './session-transport.js';
import { readableFor, writableFor } from './stream-adapter.js';
import { connectionPaths, type SessionPath } from './session-paths.js';

/**
 * A Session's transport when it is a QUIC connection of its own: the connection's state (events,
 * waiters, promises: `SessionState`) and the endpoint that drives it (its clock and transmit
 * loop: `SessionHost`). Streams are the connection's streams as web streams (`readableFor` /
 * `writableFor`), read and written with no layer in between.
 * @internal
 */
export class QuicTransport implements SessionTransport {
  readonly state: SessionState;
  readonly host: SessionHost;

  constructor(state: SessionState, host: SessionHost) {
    this.state = state;
    this.host = host;
  }

  get kind(): SessionKind {
    return 'quic';
  }

  get ready(): Promise<void> {
    return this.state.ready;
  }

  get closed(): Promise<CloseInfo> {
    return this.state.closed;
  }

  get remoteId(): EndpointId {
    const key = this.state.conn.peerPublicKey;
    if (!key) {
      if (this.state.conn.peerCertificates) throw new InvalidArgumentError('the peer authenticated with an X.509 certificate whose key is not Ed25519: it has no endpoint id (see peerCertificates)');
      throw new SessionClosedError(0, 'the handshake did not complete');
    }
    return EndpointId.fromBytes(key);
  }

  get peerCertificates(): readonly Uint8Array[] | undefined {
    return this.state.conn.peerCertificates;
  }

  get resumed(): boolean {
    return this.state.conn.resumed;
  }

  get earlyDataAccepted(): boolean {
    return this.state.conn.earlyData === 'accepted';
  }

  get alpn(): string {
    return this.state.conn.alpn ?? '';
  }

  get remoteAddress(): string | undefined {
    return this.host.remoteAddress(this.state.handle);
  }

  async openBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream> {
    const id = await this.state.openStream('bidi', signal);
    return this.bidi(id);
  }

  async openUnidirectionalStream(signal?: AbortSignal): Promise<WritableStream<Uint8Array>> {
    const id = await this.state.openStream('uni', signal);
    return writableFor(this.state, this.state.waiters, id);
  }

  async nextBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream | null> {
    const id = await this.state.nextIncoming('bidi', signal);
    return id === null ? null : this.bidi(id);
  }

  async nextUnidirectionalStream(signal?: AbortSignal): Promise<ReadableStream<Uint8Array> | null> {
    const id = await this.state.nextIncoming('uni', signal);
    return id === null ? null : readableFor(this.state, this.state.waiters, id);
  }

  sendDatagram(data: Uint8Array): Promise<void> {
    // Not async: the promise returned is the one that settles when the datagram leaves (an async
    // function would wrap it in another, a cost per datagram at 100,000 datagrams/s).
    let id: number;
    try {
      this.state.assertOpen();
      id = this.state.conn.sendDatagram(data);
    } catch (e) {
      if (e instanceof DatagramError && e.kind === 'too-large') {
        return Promise.reject(new DatagramError('too-large', `${e.message}; check session.maxDatagramSize()`));
      }
      return Promise.reject(e);
    }
    this.state.flush();
    return this.state.datagramSent(id);
  }

  recvDatagram(signal?: AbortSignal): Promise<Uint8Array | null> {
    return this.state.nextDatagram(signal);
  }

  maxDatagramSize(): number | null {
    return this.state.conn.maxDatagramSize() ?? null;
  }

  close(code: number | bigint, reason: string): void {
    if (this.state.closeInfo) return;
    // The CONNECTION_CLOSE follows what was queued (flush): see Session.close.
    this.state.conn.close(this.host.now(), code, reason, { flush: true });
    // Our own close: report our code and reason (the connection will not hear back).
    this.state.onClosed({ kind: 'application', code, reason, remote: false });
    this.state.flush();
  }

  getStats(): ConnectionStats {
    return this.state.conn.getStats();
  }

  paths(): SessionPath[] {
    return connectionPaths(this.state.conn);
  }

  private bidi(id: number): BidirectionalStream {
    return { readable: readableFor(this.state, this.state.waiters, id), writable: writableFor(this.state, this.state.waiters, id), streamId: id };
  }
}
