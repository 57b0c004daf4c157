import { bytesEqual } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode, protocolViolation } from '../errors.js';
import type { Frame } from '../frames/frame.js';
import { LongPacketType, tryParsePacketHeader, type PacketHeader } from '../packet/header.js';
import { QUIC_VERSION_1 } from '../packet/version.js';
import { openPayload, removeHeaderProtection } from '../packet/protection.js';
import { verifyRetry } from '../packet/retry.js';
import { PacketSpace } from '../packet/space.js';
import { FRAME_CONTEXT, MAX_BUFFERED_PACKETS, SPACE_LEVEL, type ConnectionCore } from './connection-core.js';
import { onPacketAcked } from './recovery-tokens.js';
import {
  onPacketFrom,
  onPacketsAckedOnPaths,
  onPacketsLostOnPaths,
  onPathChallenge,
  onPathResponse,
  restoreRtt,
  rttSnapshotNeeded,
  saveRtt,
} from './paths.js';
import { qlogPacketBuffered, qlogPacketDropped, qlogPacketReceived, qlogPacketsLost, qlogStatelessReceived } from './qlog.js';

/**
 * The receive path of a connection: datagram -> packets -> header protection removed -> opened ->
 * frames dispatched to the modules (RFC 9000 §12, §13; RFC 9001 §5).
 */

export function processDatagram(c: ConnectionCore, now: number, data: Uint8Array): void {
  const localCidLen = c.config.localCidLength;
  let at = 0;
  let firstDcid: Uint8Array | undefined;
  let anyProcessed = false;
  while (at < data.length) {
    const h = tryParsePacketHeader(data, at, localCidLen);
    if (h.kind === 'invalid') {
      c.packetsDropped++;
      if (c.qlog) qlogPacketDropped(c.qlog, undefined, data.length - at, 'invalid');
      break;
    }
    at = h.end;
    if (h.kind === 'versionNegotiation' || h.kind === 'retry') {
      if (c.qlog) qlogStatelessReceived(c.qlog, h, h.end - h.start);
      if (h.kind === 'retry') onRetry(c, now, data, h);
      else onVersionNegotiation(c, now, h.versions);
      return;
    }
    if (h.kind === 'unsupportedVersion') {
      c.packetsDropped++;
      if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'unsupported');
      continue;
    }
    // RFC 9000 §12.2: coalesced packets with another DCID than the first are ignored.
    if (firstDcid === undefined) firstDcid = h.dcid;
    else if (!bytesEqual(firstDcid, h.dcid)) {
      c.packetsDropped++;
      if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'rejected');
      continue;
    }
    if (processPacket(c, now, data, h)) anyProcessed = true;
  }
  // RFC 9000 §10.3.1: a datagram none of whose packets opened may be a Stateless Reset.
  if (!anyProcessed && data.length > 0 && (data[0]! & 0x80) === 0 && c.remoteCids.isStatelessReset(data)) {
    c.closeReason = { kind: 'reset', code: 0, reason: 'stateless reset from the peer', remote: true };
    c.events.push({ type: 'closed', reason: c.closeReason });
    c.enterDraining(now);
  }
}

/** Opens and processes one packet; returns false when it was dropped. */
function processPacket(c: ConnectionCore, now: number, data: Uint8Array, h: Exclude<PacketHeader, { kind: 'retry' | 'versionNegotiation' | 'unsupportedVersion' }>): boolean {
  let space: PacketSpace;
  if (h.kind === 'long') {
    if (h.type === LongPacketType.ZeroRtt) {
      c.packetsDropped++; // we never accept 0-RTT
      if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'unsupported');
      return false;
    }
    space = h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
  } else {
    space = PacketSpace.Application;
  }
  const sp = c.spaces[space]!;
  if (sp.discarded) {
    c.packetsDropped++;
    if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'key_unavailable');
    return false;
  }
  // RFC 9001 §5.7: keys not there yet (reordering): keep a copy for later, bounded.
  const readable = c.keys.canRead(space) && !(space === PacketSpace.Application && c.role === 'server' && !c.handshakeComplete);
  if (!readable) {
    if (c.buffered.length < MAX_BUFFERED_PACKETS) {
      c.buffered.push({ bytes: data.slice(h.start, h.end), space });
      if (c.qlog) qlogPacketBuffered(c.qlog, h, h.end - h.start);
    } else {
      c.packetsDropped++;
      if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'key_unavailable');
    }
    return false;
  }
  const hp = c.keys.readHeaderKey(space);
  const u = removeHeaderProtection(data, h, hp);
  if (u === null) {
    c.packetsDropped++;
    if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'invalid');
    return false;
  }
  const largest = sp.ack.largestReceived;
  const opened = openPayload(data, h, u, largest, space === PacketSpace.Application ? c.keys.selectReadKey : c.keys.readPacketKey(space));
  if (opened === null) {
    c.packetsDropped++;
    if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'decryption_failure');
    if (++c.keys.authFailures > (c.keys.oneRtt?.suite.integrityLimit ?? 2 ** 52)) {
      throw new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'too many packets failed authentication');
    }
    return false;
  }
  if (sp.ack.isDuplicate(opened.pn)) {
    c.packetsDropped++;
    if (c.qlog) qlogPacketDropped(c.qlog, h, h.end - h.start, 'duplicate');
    return true;
  }
  c.packetsReceived++;
  if (c.qlog) qlogPacketReceived(c, c.qlog, h, space, opened.pn, opened.payload, h.end - h.start);
  if (space === PacketSpace.Application && c.keys.onOneRttOpened(opened.keyPhase, opened.pn, now, c.currentPto())) {
    c.qlog?.remoteKeyUpdate(c.keys.updates); // RFC 9001 §6.2: the peer's key update
  }

  // Address and CID learning from long headers.
  if (h.kind === 'long') {
    if (c.role === 'client' && h.type === LongPacketType.Initial && !c.peerScidKnown) {
      // RFC 9000 §7.2: the client switches to the server's chosen CID.
      c.peerScidKnown = true;
      c.expectedPeerScid = h.scid.slice();
      c.remoteCids.replaceInitial(h.scid.slice());
      if (c.qlog) c.qlog.stateChanged(c);
    }
    if (space === PacketSpace.Handshake && c.role === 'server' && !c.addressValidated) {
      // RFC 9000 §8.1: a Handshake packet from the client validates its address.
      c.addressValidated = true;
      c.loss.amplificationBlocked = false;
    }
    if (space === PacketSpace.Handshake && c.role === 'server' && !c.spaces[PacketSpace.Initial]!.discarded) {
      // RFC 9001 §4.9.1: a server discards Initial keys when it first processes a Handshake packet.
      c.discardSpace(PacketSpace.Initial, now);
    }
  }

  c.rxDcid = h.dcid;
  const ackEliciting = processFrames(c, now, opened.payload, space);
  // RFC 9000 §9.3: a packet from another address may move the path (path.ts decides).
  if (c.paths.rxAddress !== c.paths.current.address && c.state !== 'draining') {
    onPacketFrom(c, now, space, opened.pn, largest, lastProbingOnly);
  }
  sp.ack.onPacketReceived(opened.pn, ackEliciting, now);
  c.lastActivity = now;
  c.ackElicitingSentSinceReceive = false;
  replayDeferred(c, now);
  return true;
}

/** Whether the packet `processFrames` last handled held only probing frames (RFC 9000 §9.1). */
let lastProbingOnly = true;

/** Decodes and dispatches every frame; returns whether the packet was ack-eliciting. */
function processFrames(c: ConnectionCore, now: number, payload: Uint8Array, space: PacketSpace): boolean {
  const it = c.frames;
  it.reset(payload, FRAME_CONTEXT[space]);
  // A CRYPTO frame may install read keys, and packets buffered for them are replayed: not from
  // inside this loop, which would reuse `c.frames` and skip the rest of this packet. They are
  // replayed once this packet is done (`replayDeferred`, end of `processPacket`).
  c.inFrames = true;
  try {
    for (let f = it.next(); f !== null; f = it.next()) {
      if (c.state === 'draining') break;
      onFrame(c, now, f, it.frameType, space);
    }
  } finally {
    c.inFrames = false;
  }
  lastProbingOnly = it.probingOnly;
  return it.ackEliciting;
}

/** Runs the replay of buffered packets that new keys asked for while a packet was being read. */
function replayDeferred(c: ConnectionCore, now: number): void {
  if (!c.replayDeferred) return;
  c.replayDeferred = false;
  if (c.state !== 'handshake' && c.state !== 'established') return; // the packet ended the connection
  replayBuffered(c, now);
}

function onFrame(c: ConnectionCore, now: number, f: Frame, frameType: number, space: PacketSpace): void {
  switch (f.kind) {
    case 'padding':
    case 'ping':
      return;
    case 'ack':
      onAck(c, now, f.ranges, f.ackDelay, space);
      return;
    case 'crypto':
      onCrypto(c, now, space, f.offset, f.data, frameType);
      return;
    case 'stream':
      c.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
      return;
    case 'resetStream':
      c.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
      return;
    case 'stopSending':
      c.streams.onStopSending(f.streamId, f.errorCode);
      return;
    case 'maxData':
      c.streams.onMaxData(f.maximum);
      return;
    case 'maxStreamData':
      c.streams.onMaxStreamData(f.streamId, f.maximum);
      return;
    case 'maxStreams':
      c.streams.onMaxStreams(f.bidi ? 'bidi' : 'uni', f.maximum);
      return;
    case 'dataBlocked':
      c.streams.onDataBlocked(f.maximum);
      return;
    case 'streamDataBlocked':
      c.streams.onStreamDataBlocked(f.streamId, f.maximum);
      return;
    case 'streamsBlocked':
      c.streams.onStreamsBlocked(f.bidi ? 'bidi' : 'uni', f.maximum);
      return;
    case 'newToken':
      // RFC 9000 §19.7: servers never receive NEW_TOKEN.
      if (c.role === 'server') throw protocolViolation('NEW_TOKEN sent to a server', frameType);
      c.events.push({ type: 'newToken', token: f.token.slice() });
      return;
    case 'newConnectionId':
      c.remoteCids.onNewCid(f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
      return;
    case 'retireConnectionId':
      c.localCids.onRetire(f.sequence, c.rxDcid);
      return;
    case 'pathChallenge':
      // RFC 9000 §8.2.2: echo the data in a PATH_RESPONSE on the path it came from (bounded).
      onPathChallenge(c, f.data);
      return;
    case 'pathResponse':
      // RFC 9000 §8.2.3: validates the path of the matching challenge; others are ignored.
      onPathResponse(c, now, f.data);
      return;
    case 'connectionClose':
      c.onConnectionClose(now, f);
      return;
    case 'handshakeDone':
      // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE is a PROTOCOL_VIOLATION.
      if (c.role === 'server') throw protocolViolation('HANDSHAKE_DONE sent to a server', frameType);
      c.onHandshakeConfirmed(now);
      return;
    case 'datagram':
      c.datagrams.onReceived(f.data, f.data.length + 3, frameType);
      if (c.datagrams.receivedCount === 1) c.events.push({ type: 'datagram' });
      return;
  }
}

function onAck(c: ConnectionCore, now: number, ranges: number[], ackDelayField: number, space: PacketSpace): void {
  // RFC 9000 §19.3: ack_delay is scaled by the PEER's exponent; it applies to 1-RTT only in RFC 9002 terms.
  const exponent = space === PacketSpace.Application ? (c.peerParams?.ackDelayExponent ?? 3) : 3;
  const ackDelayMs = (ackDelayField * 2 ** exponent) / 1000;
  // RFC 9000 §9.4: an RTT sample of a packet sent on the previous path is not one of this path.
  const rttBefore = ranges.length > 0 && rttSnapshotNeeded(c, space, ranges[0]!) ? saveRtt(c) : undefined;
  const r = c.loss.onAckReceived(space, ranges, ackDelayMs, now);
  if (rttBefore && r.rttUpdated) restoreRtt(c, rttBefore);
  if (space === PacketSpace.Application && ranges.length > 0) c.keys.onOneRttAcked(ranges[0]!);
  if (r.newlyAcked.length > 0) {
    for (const p of r.newlyAcked) onPacketAcked(c, p, now);
    onPacketsAckedOnPaths(c, now, r.newlyAcked, space);
  }
  if (r.lost.length > 0) {
    if (c.qlog) qlogPacketsLost(c, c.qlog, space, r.lost);
    onPacketsLostOnPaths(c, now, r.lost, r.persistentCongestion, space);
  }
  c.updatePacer();
}

function onCrypto(c: ConnectionCore, now: number, space: PacketSpace, offset: number, data: Uint8Array, frameType: number): void {
  const chunks = c.spaces[space]!.crypto.onCryptoFrame(offset, data, frameType);
  const level = SPACE_LEVEL[space];
  for (const chunk of chunks) c.tls.handleData(level, chunk);
  c.processTlsEvents(now);
}

/** New read keys arrived: process the packets that waited for them. */
export function replayBuffered(c: ConnectionCore, now: number): void {
  if (c.buffered.length === 0) return;
  if (c.inFrames) {
    c.replayDeferred = true;
    return;
  }
  const pending = c.buffered.splice(0);
  for (const b of pending) {
    const h = tryParsePacketHeader(b.bytes, 0, c.config.localCidLength);
    if (h.kind === 'long' || h.kind === 'short') {
      if (!processPacket(c, now, b.bytes, h) && !c.keys.canRead(b.space)) continue;
    }
  }
}

function onVersionNegotiation(c: ConnectionCore, now: number, versions: readonly number[]): void {
  // RFC 9000 §6.2: only a client that has received nothing else acts on it, and only when its
  // version is not listed (a listed one means the packet is forged or stale).
  if (c.role !== 'client' || c.peerScidKnown || versions.includes(QUIC_VERSION_1)) return;
  c.closeReason = { kind: 'versionMismatch', code: 0, reason: `the server supports none of our versions (it offers ${versions.map((v) => `0x${v.toString(16)}`).join(', ')})`, remote: true };
  c.events.push({ type: 'closed', reason: c.closeReason });
  c.terminate();
  void now;
}

function onRetry(c: ConnectionCore, now: number, data: Uint8Array, h: Extract<PacketHeader, { kind: 'retry' }>): void {
  // RFC 9000 §17.2.5.2: a client accepts at most one Retry, before any server Initial, with a
  // valid integrity tag and a non-empty token; anything else is discarded.
  if (c.role !== 'client' || c.retryScid || c.peerScidKnown || h.token.length === 0) return;
  if (!verifyRetry(data, h, c.originalDcid)) return;
  c.retryScid = h.scid.slice();
  c.token = h.token.slice();
  c.expectedPeerScid = c.retryScid;
  c.remoteCids.replaceInitial(c.retryScid);
  c.keys.setInitial(c.retryScid);
  // RFC 9002 §6.3: loss recovery and congestion control restart (nothing was acknowledged yet,
  // so removing the Initial bytes from flight leaves the controller in its initial state); the
  // ClientHello is sent again, with the token, in packets whose numbers continue (RFC 9000
  // §17.2.5.3).
  c.cc.onPacketsDiscarded(c.loss.resetForRetry(now));
  c.spaces[PacketSpace.Initial]!.crypto.requeueUnacked();
}
