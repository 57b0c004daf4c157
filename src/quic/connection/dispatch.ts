import { fromUtf8 } from '../../codec/bytes.js';
import { protocolViolation } from '../errors.js';
import type { Frame } from '../frames/frame.js';
import { frameTypeName } from '../frames/types.js';
import { LongPacketType, type LongHeader, type RetryHeader } from '../packet/header.js';
import { PacketSpace } from '../packet/space.js';
import { Level } from '../../tls/engine.js';
import type { LossRecovery } from './loss-recovery.js';
import { MultipathState } from './multipath.js';
import { currentPto, peerAckDelayExponent, type ConnectionParts } from './parts.js';
import type { HandshakeProgress } from './progress.js';
import type { PathIds } from './path-ids.js';
import type { ReceiveHandler } from './receive.js';

/**
 * What each received packet and frame means for the parts of a connection (RFC 9000 §12.4, §19):
 * the receive path (receive.ts) opens packets and hands their frames here, and this dispatches
 * each to the part that owns what it concerns. It owns no state of its own.
 */
export class FrameDispatcher implements ReceiveHandler {
  private readonly p: ConnectionParts;
  private readonly progress: HandshakeProgress;
  private readonly recovery: LossRecovery;
  private readonly pathIds: PathIds;

  constructor(parts: ConnectionParts, progress: HandshakeProgress, recovery: LossRecovery, pathIds: PathIds) {
    this.p = parts;
    this.progress = progress;
    this.recovery = recovery;
    this.pathIds = pathIds;
  }

  /** A Version Negotiation packet (RFC 9000 §6.2): the end, when none of its versions is ours. */
  onVersionNegotiation(_now: number, versions: readonly number[]): void {
    const why = this.p.handshake.onVersionNegotiation(versions);
    if (why !== undefined) this.p.lifecycle.closeSilently({ kind: 'versionMismatch', code: 0, reason: why, remote: true });
  }

  /** A packet of path id ≥ 1: a server meets a new path id this way (`PathIds`). */
  onPathIdPacket(now: number, pathId: number, size: number): void {
    if (this.p.lifecycle.isOpen) this.pathIds.onPacketReceived(now, pathId, size);
  }

  onPacketProcessed(now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean, pathId: number): void {
    // RFC 9000 §9.3: a packet from another address may move the path (paths.ts decides); path 0
    // only: another path id's packet numbers are of its own space and never move path 0.
    // An abandoned path 0 moves no more (its late packets are only acknowledged).
    if (this.p.lifecycle.isOpen && pathId === 0 && !this.p.multipath.isPathZeroAbandoned) this.p.paths.onPacketFrom(now, space, pn, largestBefore, probingOnly, this.p.handshake.isConfirmed, currentPto(this.p));
    this.p.idle.onPacketReceived(now);
  }

  /** RFC 9000 §10.3.1: the peer reset the connection. */
  onStatelessReset(now: number): void {
    this.p.lifecycle.drain(now, { kind: 'reset', code: 0, reason: 'stateless reset from the peer', remote: true }, currentPto(this.p));
  }

  /** A Retry (RFC 9000 §17.2.5): when the handshake accepts it, Initial keys and recovery restart. */
  onRetry(now: number, datagram: Uint8Array, h: RetryHeader): void {
    const scid = this.p.handshake.onRetry(datagram, h);
    if (!scid) return;
    this.p.remoteCids.replaceInitial(scid);
    this.p.keys.setInitial(scid);
    this.recovery.onRetry(now);
  }

  /** A long-header packet opened: connection IDs and addresses learnt from it. */
  onLongHeader(now: number, h: LongHeader, space: PacketSpace): void {
    if (h.type === LongPacketType.Initial && this.p.handshake.onServerScid(h.scid.slice())) {
      // RFC 9000 §7.2: the client switches to the server's chosen CID.
      this.p.remoteCids.replaceInitial(h.scid.slice());
      this.progress.logState();
    }
    if (space === PacketSpace.Handshake && this.p.role === 'server') {
      // RFC 9000 §8.1: a Handshake packet from the client validates its address.
      if (!this.p.paths.current.validated) this.p.paths.onCurrentValidated(now);
      // RFC 9001 §4.9.1: a server discards Initial keys when it first processes a Handshake packet.
      this.progress.discardSpace(PacketSpace.Initial, now);
    }
  }

  onFrame(now: number, f: Frame, frameType: number, space: PacketSpace, dcid: Uint8Array): void {
    switch (f.kind) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        // RFC 9000 §19.3: ack_delay is scaled by the PEER's exponent; Initial and Handshake use 3.
        this.recovery.onAck(now, space, f.ranges, (f.ackDelay * 2 ** peerAckDelayExponent(this.p.handshake, space)) / 1000);
        return;
      case 'crypto': {
        const chunks = this.p.spaces.at(space).crypto.onCryptoFrame(f.offset, f.data, frameType);
        const level = SPACE_LEVEL[space];
        for (const chunk of chunks) this.p.handshake.tls.handleData(level, chunk);
        this.progress.processTlsEvents(now);
        return;
      }
      case 'stream':
        this.p.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
        return;
      case 'resetStream':
        this.p.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
        return;
      case 'stopSending':
        this.p.streams.onStopSending(f.streamId, f.errorCode);
        return;
      case 'maxData':
        this.p.streams.onMaxData(f.maximum);
        return;
      case 'maxStreamData':
        this.p.streams.onMaxStreamData(f.streamId, f.maximum);
        return;
      case 'maxStreams':
        this.p.streams.onMaxStreams(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'dataBlocked':
        this.p.streams.onDataBlocked(f.maximum);
        return;
      case 'streamDataBlocked':
        this.p.streams.onStreamDataBlocked(f.streamId, f.maximum);
        return;
      case 'streamsBlocked':
        this.p.streams.onStreamsBlocked(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'newToken':
        // RFC 9000 §19.7: servers never receive NEW_TOKEN.
        if (this.p.role === 'server') throw protocolViolation('NEW_TOKEN sent to a server', frameType);
        this.p.events.push({ type: 'newToken', token: f.token.slice() });
        return;
      case 'newConnectionId':
        this.p.remoteCids.onNewCid(f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
        return;
      case 'retireConnectionId':
        this.p.localCids.onRetire(f.sequence, dcid);
        return;
      case 'pathChallenge': {
        // RFC 9000 §8.2.2: echo the data in a PATH_RESPONSE on the path it came from (bounded);
        // with multipath, on the path id it came on (draft §3.1).
        const rx = this.p.multipath.rxPathId;
        if (rx !== 0) this.pathIds.onPathChallenge(rx, f.data);
        else this.p.paths.onPathChallenge(f.data);
        return;
      }
      case 'pathResponse':
        // n0 NAT traversal first (noq does the same): the answer to one of our probes, from the
        // address probed, is no validation of any path of ours.
        // The source is the datagram's: on a path id ≥ 1 (a probe we sent there) path 0's is stale.
        if (this.p.nat?.onPathResponse(this.rxAddress(), f.data)) return;
        // RFC 9000 §8.2.3: validates the path of the matching challenge; others are ignored.
        if (this.p.multipath.paths.size > 0 && this.pathIds.onPathResponse(f.data)) return;
        this.p.paths.onPathResponse(now, f.data, currentPto(this.p));
        return;
      case 'connectionClose': {
        const reason = fromUtf8(f.reason);
        this.p.lifecycle.onPeerClose(
          now,
          f.application
            ? { kind: 'application', code: f.errorCode, reason, remote: true }
            : { kind: 'transport', code: f.errorCode, reason, remote: true, frameType: f.frameType },
          this.p.handshake.isComplete,
          currentPto(this.p),
        );
        return;
      }
      case 'handshakeDone':
        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE is a PROTOCOL_VIOLATION.
        if (this.p.role === 'server') throw protocolViolation('HANDSHAKE_DONE sent to a server', frameType);
        this.progress.onConfirmed(now);
        return;
      case 'datagram':
        this.p.datagrams.onReceived(f.data, f.data.length + 3, frameType);
        if (this.p.datagrams.receivedCount === 1) this.p.events.push({ type: 'datagram' });
        return;
      case 'pathAck':
      case 'pathAbandon':
      case 'pathStatus':
      case 'pathNewConnectionId':
      case 'pathRetireConnectionId':
      case 'maxPathId':
      case 'pathsBlocked':
      case 'pathCidsBlocked':
        this.onMultipathFrame(now, f, frameType, dcid);
        return;
      case 'addAddress':
      case 'reachOut':
      case 'removeAddress':
        this.onNatFrame(now, f, frameType);
        return;
      case 'observedAddress': {
        // QUIC Address Discovery (address-discovery.ts): only when we offered to receive reports.
        const qad = this.p.qad;
        if (qad === null) throw protocolViolation('OBSERVED_ADDRESS frame without address discovery offered', frameType);
        const address = qad.onReport(this.p.multipath.rxPathId, f);
        if (address !== null) this.p.events.push({ type: 'observedAddress', address });
        return;
      }
    }
  }

  /** The source address of the datagram being processed (path 0's, or a path id's). */
  private rxAddress(): string {
    const rx = this.p.multipath.rxPathId;
    return rx === 0 ? this.p.paths.rxAddress : (this.pathIds.rxAddress(rx) ?? this.p.paths.rxAddress);
  }

  /**
   * iroh's n0 NAT traversal frames (nat.ts): only when both sides sent both of its transport
   * parameters and multipath; the wrong side's frame is a PROTOCOL_VIOLATION (nat-traversal.ts).
   */
  private onNatFrame(now: number, f: Extract<Frame, { kind: 'addAddress' | 'reachOut' | 'removeAddress' }>, frameType: number): void {
    const nat = this.p.nat;
    if (nat === null || nat.machine === null) {
      throw protocolViolation(`${frameTypeName(frameType)} frame without n0 NAT traversal negotiated`, frameType);
    }
    if (f.kind === 'addAddress') nat.onAddAddress(now, f);
    else if (f.kind === 'removeAddress') nat.onRemoveAddress(f);
    else nat.onReachOut(now, f);
  }

  /**
   * draft-ietf-quic-multipath §4. Without multipath negotiated (both sent initial_max_path_id)
   * every one of these frames is a PROTOCOL_VIOLATION, as noq has it. With it, this connection
   * still uses path 0 only: the frames about path 0 go to the parts that own its state (a plain
   * ACK, NEW_CONNECTION_ID and RETIRE_CONNECTION_ID also mean path 0), those about path ids we
   * allowed but never opened are checked and ignored, and those that claim such a path carried
   * packets or connection ids are violations.
   */
  private onMultipathFrame(now: number, f: MultipathFrame, frameType: number, dcid: Uint8Array): void {
    const p = this.p;
    const n = p.handshake.multipath;
    if (n === null) throw protocolViolation(`${frameTypeName(frameType)} frame without multipath negotiated`, frameType);
    const mp = p.multipath;
    switch (f.kind) {
      case 'pathAck': {
        const delay = (f.ackDelay * 2 ** peerAckDelayExponent(p.handshake, PacketSpace.Application)) / 1000;
        if (f.pathId !== 0) this.pathIds.onPathAck(now, f.pathId, f.ranges, delay, frameType);
        else this.recovery.onAck(now, PacketSpace.Application, f.ranges, delay);
        return;
      }
      case 'pathNewConnectionId':
        mp.checkLocalPathId(n, f.pathId, frameType);
        if (f.pathId === 0) p.remoteCids.onNewCid(f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
        // A path id abandoned has no more use for connection ids (draft §3.4; noq ignores them too).
        else if (!mp.isClosedPathId(f.pathId)) mp.cids?.onNewCid(f.pathId, f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
        return;
      case 'pathRetireConnectionId':
        if (f.pathId === 0) p.localCids.onRetire(f.sequence, dcid, frameType);
        else if (mp.cids === null) MultipathState.neverOpened(f.pathId, frameType);
        // A path id forgotten retired ours already (MultipathState.forget): a late frame.
        else if (!mp.isForgotten(f.pathId)) mp.cids.onRetire(f.pathId, f.sequence, dcid);
        return;
      case 'maxPathId':
        mp.onMaxPathId(n, f.maximum);
        mp.issueCids(n, p.handshake.peerParams?.activeConnectionIdLimit ?? 2);
        return;
      case 'pathsBlocked':
        mp.checkLocalPathId(n, f.maximum, frameType);
        return;
      case 'pathCidsBlocked':
        mp.checkLocalPathId(n, f.pathId, frameType);
        mp.onPeerCidsBlocked(n, f.pathId, p.handshake.peerParams?.activeConnectionIdLimit ?? 2);
        return;
      case 'pathStatus':
        mp.onPathStatus(f.pathId, f.status, f.sequence);
        return;
      case 'pathAbandon':
        // Path 0 included (draft §3.4): the connection goes on on the paths left, or ends when
        // it was the last one.
        this.pathIds.onPeerAbandon(now, f.pathId, Number(f.errorCode), frameType);
        return;
    }
  }
}

type MultipathFrame = Extract<
  Frame,
  { kind: 'pathAck' | 'pathAbandon' | 'pathStatus' | 'pathNewConnectionId' | 'pathRetireConnectionId' | 'maxPathId' | 'pathsBlocked' | 'pathCidsBlocked' }
>;

const SPACE_LEVEL: Record<PacketSpace, Level> = {
  [PacketSpace.Initial]: Level.Initial,
  [PacketSpace.Handshake]: Level.Handshake,
  [PacketSpace.Application]: Level.Application,
};
