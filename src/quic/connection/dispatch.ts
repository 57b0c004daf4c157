import { fromUtf8 } from '../../codec/bytes.js';
import { protocolViolation } from '../errors.js';
import type { Frame } from '../frames/frame.js';
import { LongPacketType, type LongHeader, type RetryHeader } from '../packet/header.js';
import { PacketSpace } from '../packet/space.js';
import type { StreamMap } from '../streams/stream-map.js';
import { Level } from '../../tls/engine.js';
import type { LocalCids, RemoteCids } from './cids.js';
import type { Datagrams } from './datagrams.js';
import type { EventQueue } from './events.js';
import type { Handshake } from './handshake.js';
import type { IdleTimer } from './idle.js';
import type { ConnectionKeys } from './keys.js';
import type { Lifecycle } from './lifecycle.js';
import type { LossRecovery } from './loss-recovery.js';
import type { PathSet } from './paths.js';
import type { ReceiveHandler } from './receive.js';
import type { PacketSpaces } from './spaces.js';

/** The parts a received packet's frames reach, and the connection's own steps they trigger. */
export interface DispatchDeps {
  readonly role: 'client' | 'server';
  readonly handshake: Handshake;
  readonly lifecycle: Lifecycle;
  readonly events: EventQueue;
  readonly keys: ConnectionKeys;
  readonly spaces: PacketSpaces;
  readonly streams: StreamMap;
  readonly datagrams: Datagrams;
  readonly localCids: LocalCids;
  readonly remoteCids: RemoteCids;
  readonly paths: PathSet;
  readonly idle: IdleTimer;
  readonly recovery: LossRecovery;
  /** The DCID of the packet being processed (the receiver's). */
  packetDcid(): Uint8Array;
  /** The current PTO (ms). */
  pto(): number;
  /** The ack_delay_exponent of the peer's ACK frames in `space`. */
  peerAckDelayExponent(space: PacketSpace): number;
  /** TLS was fed handshake bytes: act on its events (keys, parameters, completion). */
  processTlsEvents(now: number): void;
  /** RFC 9001 §4.1.2: the handshake is confirmed. */
  onHandshakeConfirmed(now: number): void;
  /** RFC 9001 §4.9: the keys of `space` are discarded. */
  discardSpace(space: PacketSpace, now: number): void;
  /** qlog: the connection state may have changed. */
  logState(): void;
}

/**
 * What each received packet and frame means for the parts of a connection (RFC 9000 §12.4, §19):
 * the receive path (receive.ts) opens packets and hands their frames here, and this dispatches
 * each to the part that owns what it concerns. It owns no state of its own.
 */
export class FrameDispatcher implements ReceiveHandler {
  private readonly d: DispatchDeps;
  private readonly role: 'client' | 'server';
  private readonly handshake: Handshake;
  private readonly lifecycle: Lifecycle;
  private readonly events: EventQueue;
  private readonly keys: ConnectionKeys;
  private readonly spaces: PacketSpaces;
  private readonly streams: StreamMap;
  private readonly datagrams: Datagrams;
  private readonly localCids: LocalCids;
  private readonly remoteCids: RemoteCids;
  private readonly paths: PathSet;
  private readonly idle: IdleTimer;
  private readonly recovery: LossRecovery;

  constructor(deps: DispatchDeps) {
    this.d = deps;
    this.role = deps.role;
    this.handshake = deps.handshake;
    this.lifecycle = deps.lifecycle;
    this.events = deps.events;
    this.keys = deps.keys;
    this.spaces = deps.spaces;
    this.streams = deps.streams;
    this.datagrams = deps.datagrams;
    this.localCids = deps.localCids;
    this.remoteCids = deps.remoteCids;
    this.paths = deps.paths;
    this.idle = deps.idle;
    this.recovery = deps.recovery;
  }

  /** A Version Negotiation packet (RFC 9000 §6.2): the end, when none of its versions is ours. */
  onVersionNegotiation(_now: number, versions: readonly number[]): void {
    const why = this.handshake.onVersionNegotiation(versions);
    if (why !== undefined) this.lifecycle.closeSilently({ kind: 'versionMismatch', code: 0, reason: why, remote: true });
  }

  onPacketProcessed(now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean): void {
    // RFC 9000 §9.3: a packet from another address may move the path (paths.ts decides).
    if (this.lifecycle.isOpen) this.paths.onPacketFrom(now, space, pn, largestBefore, probingOnly, this.handshake.isConfirmed, this.d.pto());
    this.idle.onPacketReceived(now);
  }

  /** RFC 9000 §10.3.1: the peer reset the connection. */
  onStatelessReset(now: number): void {
    this.lifecycle.drain(now, { kind: 'reset', code: 0, reason: 'stateless reset from the peer', remote: true }, this.d.pto());
  }

  /** A Retry (RFC 9000 §17.2.5): when the handshake accepts it, Initial keys and recovery restart. */
  onRetry(now: number, datagram: Uint8Array, h: RetryHeader): void {
    const scid = this.handshake.onRetry(datagram, h);
    if (!scid) return;
    this.remoteCids.replaceInitial(scid);
    this.keys.setInitial(scid);
    this.recovery.onRetry(now);
  }

  /** A long-header packet opened: connection IDs and addresses learnt from it. */
  onLongHeader(now: number, h: LongHeader, space: PacketSpace): void {
    if (h.type === LongPacketType.Initial && this.handshake.onServerScid(h.scid.slice())) {
      // RFC 9000 §7.2: the client switches to the server's chosen CID.
      this.remoteCids.replaceInitial(h.scid.slice());
      this.d.logState();
    }
    if (space === PacketSpace.Handshake && this.role === 'server') {
      // RFC 9000 §8.1: a Handshake packet from the client validates its address.
      if (!this.paths.current.validated) this.paths.onCurrentValidated(now);
      // RFC 9001 §4.9.1: a server discards Initial keys when it first processes a Handshake packet.
      this.d.discardSpace(PacketSpace.Initial, now);
    }
  }

  onFrame(now: number, f: Frame, frameType: number, space: PacketSpace): void {
    switch (f.kind) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        // RFC 9000 §19.3: ack_delay is scaled by the PEER's exponent; Initial and Handshake use 3.
        this.recovery.onAck(now, space, f.ranges, (f.ackDelay * 2 ** this.d.peerAckDelayExponent(space)) / 1000);
        return;
      case 'crypto': {
        const chunks = this.spaces.at(space).crypto.onCryptoFrame(f.offset, f.data, frameType);
        const level = SPACE_LEVEL[space];
        for (const chunk of chunks) this.handshake.tls.handleData(level, chunk);
        this.d.processTlsEvents(now);
        return;
      }
      case 'stream':
        this.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
        return;
      case 'resetStream':
        this.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
        return;
      case 'stopSending':
        this.streams.onStopSending(f.streamId, f.errorCode);
        return;
      case 'maxData':
        this.streams.onMaxData(f.maximum);
        return;
      case 'maxStreamData':
        this.streams.onMaxStreamData(f.streamId, f.maximum);
        return;
      case 'maxStreams':
        this.streams.onMaxStreams(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'dataBlocked':
        this.streams.onDataBlocked(f.maximum);
        return;
      case 'streamDataBlocked':
        this.streams.onStreamDataBlocked(f.streamId, f.maximum);
        return;
      case 'streamsBlocked':
        this.streams.onStreamsBlocked(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'newToken':
        // RFC 9000 §19.7: servers never receive NEW_TOKEN.
        if (this.role === 'server') throw protocolViolation('NEW_TOKEN sent to a server', frameType);
        this.events.push({ type: 'newToken', token: f.token.slice() });
        return;
      case 'newConnectionId':
        this.remoteCids.onNewCid(f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
        return;
      case 'retireConnectionId':
        this.localCids.onRetire(f.sequence, this.d.packetDcid());
        return;
      case 'pathChallenge':
        // RFC 9000 §8.2.2: echo the data in a PATH_RESPONSE on the path it came from (bounded).
        this.paths.onPathChallenge(f.data);
        return;
      case 'pathResponse':
        // RFC 9000 §8.2.3: validates the path of the matching challenge; others are ignored.
        this.paths.onPathResponse(now, f.data, this.d.pto());
        return;
      case 'connectionClose': {
        const reason = fromUtf8(f.reason);
        this.lifecycle.onPeerClose(
          now,
          f.application
            ? { kind: 'application', code: f.errorCode, reason, remote: true }
            : { kind: 'transport', code: f.errorCode, reason, remote: true, frameType: f.frameType },
          this.handshake.isComplete,
          this.d.pto(),
        );
        return;
      }
      case 'handshakeDone':
        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE is a PROTOCOL_VIOLATION.
        if (this.role === 'server') throw protocolViolation('HANDSHAKE_DONE sent to a server', frameType);
        this.d.onHandshakeConfirmed(now);
        return;
      case 'datagram':
        this.datagrams.onReceived(f.data, f.data.length + 3, frameType);
        if (this.datagrams.receivedCount === 1) this.events.push({ type: 'datagram' });
        return;
    }
  }
}

const SPACE_LEVEL: Record<PacketSpace, Level> = {
  [PacketSpace.Initial]: Level.Initial,
  [PacketSpace.Handshake]: Level.Handshake,
  [PacketSpace.Application]: Level.Application,
};
