import { TransportErrorCode } from '../errors.js';
import { BASE_PLPMTU } from './mtu.js';
import { PacketSpace } from '../packet/space.js';
import { DATAGRAM_TOKEN, HANDSHAKE_DONE_TOKEN, PacketTokens } from './recovery-tokens.js';
import { transportClose, type ConnectionCore, type Space } from './connection-core.js';

/**
 * The transmit path of a connection: what goes in the next datagram, in which packet number
 * spaces, within the congestion window, the pacer and the anti-amplification limit
 * (RFC 9000 §12.2, §13, §14; RFC 9002 §7).
 */

export function transmit(c: ConnectionCore, now: number, out: Uint8Array): number {
  c.maybeAutoKeyUpdate(now);
  let limit = Math.min(out.length, c.mtu.current);
  if (!c.addressValidated) {
    // RFC 9000 §8.1: at most three times what the client sent before its address is validated.
    const budget = 3 * c.amplificationReceived - c.amplificationSent;
    c.loss.amplificationBlocked = budget < 1200;
    if (budget <= 0) return 0;
    limit = Math.min(limit, budget);
  }
  if (c.mtu.current > BASE_PLPMTU && probesPending(c)) {
    // PTO probes go in base-size datagrams: if the path MTU shrank (a route change), full-size
    // packets vanish without a trace and only a probe that fits can elicit the ACK that declares
    // them lost, which is what black-hole detection needs (RFC 8899 §4.3, mtu.ts).
    limit = Math.min(limit, BASE_PLPMTU);
  }
  const b = c.builder;
  if (c.handshakeConfirmed && c.addressValidated) {
    // A path MTU probe travels alone in a datagram larger than the current MTU (RFC 9000 §14.4).
    const probe = c.mtu.pollProbe(now);
    if (probe !== undefined && probe <= out.length && c.cc.canSend(probe) && (!c.pacer || c.pacer.delayUntil(now, probe) === 0)) {
      b.beginDatagram(out, probe, c.remoteCids.current);
      buildMtuProbe(c, now, c.spaces[PacketSpace.Application]!, probe);
      const len = b.finishDatagram();
      c.bytesSent += len;
      return len;
    }
  }
  b.beginDatagram(out, limit, c.remoteCids.current);
  let needPadding = false;
  for (const sp of c.spaces) {
    if (sp.discarded || !c.keys.canWrite(sp.space)) continue;
    if (sp.space === PacketSpace.Application && !c.handshakeComplete && c.role === 'server') continue;
    if (b.remaining < 64) break;
    needPadding = buildPacket(c, now, sp, needPadding);
    if (sp.space === PacketSpace.Handshake && c.role === 'client' && b.sentInDatagram(PacketSpace.Handshake)) {
      // RFC 9001 §4.9.1: a client discards Initial keys once it first sends a Handshake packet.
      c.discardSpace(PacketSpace.Initial, now);
    }
  }
  const len = b.finishDatagram();
  if (len > 0) {
    c.bytesSent += len;
    if (!c.addressValidated) c.amplificationSent += len;
  }
  return len;
}

/**
 * Builds one packet of `sp` into the current datagram, if it has anything to say. `needPadding`:
 * an earlier packet of the datagram requires it padded to 1200 bytes; returns the same for the
 * next packet.
 */
function buildPacket(c: ConnectionCore, now: number, sp: Space, needPadding: boolean): boolean {
  const b = c.builder;
  const space = sp.space;
  const app = space === PacketSpace.Application;
  if (!willSend(c, now, sp)) {
    if (c.pacer && hasAckElicitingData(c, sp) && c.cc.canSend(1200)) {
      const wake = c.pacer.delayUntil(now, 1200);
      if (wake > 0) c.pacingWake = wake;
    }
    return needPadding;
  }
  const probing = sp.probes > 0;
  const canElicit = probing || canSendAckEliciting(c, now);
  const keys = c.keys.writeKeys(space);
  const largestAcked = c.loss.largestAcked(space);
  const token = space === PacketSpace.Initial && c.role === 'client' ? c.token : undefined;
  if (!b.beginPacket(space, sp.nextPn, largestAcked, app ? c.keys.keyPhase : 0, token)) return needPadding;
  const record = new PacketTokens();
  const tokens = record;
  let ackEliciting = false;
  let retransmission = false;

  // ACK first (RFC 9000 §13.2: piggyback whenever we send anyway).
  if (sp.ack.ackPending) {
    const frame = sp.ack.ackFrame(now, space === PacketSpace.Application ? c.config.ackDelayExponent : 3, c.config.maxAckRanges);
    if (frame && b.writeAck(frame)) {
      sp.ack.onAckSent();
      tokens.addAck(space, frame.largest);
    }
  }
  if (canElicit || probing) {
    // CRYPTO data.
    for (let chunk = sp.crypto.nextChunk(b.cryptoRoom()); chunk; chunk = sp.crypto.nextChunk(b.cryptoRoom())) {
      b.writeCrypto(chunk.offset, chunk.data);
      tokens.add({ k: 'crypto', space, offset: chunk.offset, length: chunk.data.length });
      ackEliciting = true;
      if (b.cryptoRoom() <= 0) break;
    }
    if (app) {
      if (fillApplication(c, now, tokens)) ackEliciting = true;
      retransmission = b.retransmittedStream;
    }
    if (probing && !ackEliciting) {
      b.writePing();
      ackEliciting = true;
    }
    if (c.pingPending && app && !ackEliciting) {
      b.writePing();
      ackEliciting = true;
    }
    if (app && ackEliciting) c.pingPending = false;
  }
  if (tokens.count === 0 && !ackEliciting && !b.packetHasFrames) {
    b.abandonPacket();
    return needPadding;
  }
  // RFC 9000 §14.1: datagrams with Initial packets are padded to 1200 bytes (the client's all of
  // them, the server's those with ack-eliciting Initials).
  if (space === PacketSpace.Initial && (c.role === 'client' || ackEliciting)) needPadding = true;
  const isLast = space === PacketSpace.Application || !laterSpaceWillSend(c, now, space);
  if (needPadding && isLast) b.padTo(1200);
  const size = b.finishPacket(keys);
  const pn = sp.nextPn++;
  if (probing && ackEliciting) sp.probes--;
  if (app) c.keys.onOneRttSent(pn);
  const inFlight = ackEliciting || b.lastPacketPadded;
  c.loss.onPacketSent(space, record.sent(pn, now, size, ackEliciting, inFlight));
  if (inFlight) {
    c.cc.onPacketSent(now, size, c.currentPto());
    c.pacer?.onPacketSent(now, size);
  }
  if (ackEliciting) {
    c.lastAckElicitingSent = now;
    if (!c.ackElicitingSentSinceReceive) {
      // RFC 9000 §10.1: sending the first ack-eliciting packet after a receipt restarts the idle timer.
      c.lastActivity = now;
      c.ackElicitingSentSinceReceive = true;
    }
  }
  if (retransmission) c.packetsRetransmitted++;
  c.packetsSent++;
  // An in-flight packet already re-armed the loss timer at `now` in onPacketSent; rearm for the
  // others too (the anti-amplification flag may have changed at the top of transmit).
  if (!inFlight) c.loss.rearm(now);
  return needPadding;
}

/** Frames of the application space after ACK and CRYPTO. Returns whether any is ack-eliciting. */
function fillApplication(c: ConnectionCore, now: number, tokens: PacketTokens): boolean {
  const b = c.builder;
  let eliciting = false;
  if (c.handshakeDonePending && c.role === 'server' && b.room(1)) {
    b.writeHandshakeDone();
    c.handshakeDonePending = false;
    tokens.add(HANDSHAKE_DONE_TOKEN);
    eliciting = true;
  }
  while (c.pathResponses.length > 0 && b.room(9)) {
    b.writePathResponse(c.pathResponses.shift()!);
    eliciting = true;
  }
  // Control frames: each is at most ~20 bytes, so only poll when one surely fits.
  while (c.streams.hasControlFrames && b.room(32)) {
    const f = c.streams.pollControlFrame(now, c.loss.rtt.smoothed);
    if (f === null) break;
    b.writeStreamControl(f);
    tokens.add({ k: 'control', frame: f });
    eliciting = true;
  }
  for (let n = c.localCids.peekPending(); n && b.room(1 + 8 + 8 + 1 + n.cid.length + 16); n = c.localCids.peekPending()) {
    b.writeNewConnectionId(n.seq, n.retirePriorTo, n.cid, n.resetToken);
    c.localCids.onNewCidSent(n.seq);
    tokens.add({ k: 'newCid', seq: n.seq });
    eliciting = true;
  }
  for (let s = c.remoteCids.peekRetire(); s !== undefined && b.room(9); s = c.remoteCids.peekRetire()) {
    b.writeRetireConnectionId(s);
    c.remoteCids.onRetireSent(s);
    tokens.add({ k: 'retireCid', seq: s });
    eliciting = true;
  }
  // Datagrams before stream data: they are the latency-sensitive traffic.
  for (let d = c.datagrams.peek(); d; d = c.datagrams.peek()) {
    if (!b.writeDatagram(d)) {
      if (!b.packetHasFrames && d.length > b.remaining) c.datagrams.dropHead(); // can never fit now
      break;
    }
    c.datagrams.onSent();
    tokens.add(DATAGRAM_TOKEN);
    eliciting = true;
  }
  // Stream data, round-robin across streams.
  b.retransmittedStream = false;
  for (let s = c.streams.nextSendable(); s !== null; s = c.streams.nextSendable()) {
    const room = b.streamRoom(s.id, s.peekNextOffset());
    if (room < 0) break;
    const chunk = s.nextFrame(room);
    if (chunk === null) break;
    b.writeStream(s, chunk.offset, chunk.length, chunk.fin);
    if (!chunk.isNew) b.retransmittedStream = true;
    tokens.addStream(s.id, chunk.offset, chunk.length, chunk.fin);
    eliciting = true;
    if (b.remaining < 24) break;
  }
  // Datagrams left queued (the window, not the application, stopped them) count as data to
  // send like stream data: without this, a datagram-only flow stayed at the initial window.
  c.cc.setAppLimited(!c.streams.nextSendable() && c.datagrams.queuedCount === 0 && c.cc.bytesInFlight < c.cc.window / 2);
  return eliciting;
}

function buildMtuProbe(c: ConnectionCore, now: number, sp: Space, size: number): void {
  const b = c.builder;
  if (!b.beginPacket(sp.space, sp.nextPn, c.loss.largestAcked(sp.space), c.keys.keyPhase, undefined)) return;
  b.writePing();
  b.padTo(size);
  const len = b.finishPacket(c.keys.writeKeys(sp.space));
  const pn = sp.nextPn++;
  c.keys.onOneRttSent(pn);
  c.mtu.onProbeSent(size);
  const record = new PacketTokens();
  record.add({ k: 'mtuProbe', size });
  c.loss.onPacketSent(sp.space, record.sent(pn, now, len, true, true));
  c.cc.onPacketSent(now, len, c.currentPto());
  c.pacer?.onPacketSent(now, len);
  c.packetsSent++;
}

function probesPending(c: ConnectionCore): boolean {
  for (const sp of c.spaces) if (sp.probes > 0) return true;
  return false;
}

function hasAckElicitingData(c: ConnectionCore, sp: Space): boolean {
  if (sp.crypto.hasDataToSend) return true;
  if (sp.space !== PacketSpace.Application) return false;
  return (
    c.handshakeDonePending ||
    c.pingPending ||
    c.pathResponses.length > 0 ||
    c.streams.hasControlFrames ||
    c.localCids.peekPending() !== undefined ||
    c.remoteCids.peekRetire() !== undefined ||
    c.datagrams.peek() !== undefined ||
    c.streams.nextSendable() !== null
  );
}

/**
 * Whether `buildPacket` will write a packet of `sp` now: a PTO probe is owed, an ACK is due, or
 * ack-eliciting data waits and the congestion window and the pacer allow it.
 *
 * RFC 9000 §13.2.1: an ACK alone goes out only when one is due (at once for ack-eliciting
 * Initial/Handshake packets, within max_ack_delay at 1-RTT); packets that only acknowledged or
 * padded are acknowledged when something else is sent, never by an ACK-only packet of their own
 * ("MUST NOT send a non-ack-eliciting packet in response to a non-ack-eliciting packet").
 */
function willSend(c: ConnectionCore, now: number, sp: Space): boolean {
  if (sp.probes > 0) return true;
  if (sp.ack.ackPending && sp.ack.shouldSendAck(now)) return true;
  return hasAckElicitingData(c, sp) && canSendAckEliciting(c, now);
}

/** The congestion window and the pacer let a full-size ack-eliciting packet go now (RFC 9002 §7, §7.7). */
function canSendAckEliciting(c: ConnectionCore, now: number): boolean {
  return c.cc.canSend(1200) && (!c.pacer || c.pacer.delayUntil(now, 1200) === 0);
}

/**
 * Whether a later space than `space` will put a packet in this datagram (the padding of a
 * datagram with an Initial goes in its last packet). Uses the same predicate as `buildPacket`, so
 * the prediction holds.
 */
function laterSpaceWillSend(c: ConnectionCore, now: number, space: PacketSpace): boolean {
  for (const sp of c.spaces) {
    if (sp.space <= space || sp.discarded || !c.keys.canWrite(sp.space)) continue;
    if (sp.space === PacketSpace.Application && !c.handshakeComplete && c.role === 'server') continue;
    if (willSend(c, now, sp)) return true;
  }
  return false;
}

export function transmitClose(c: ConnectionCore, now: number, out: Uint8Array): number {
  if (!c.closeSendPending || !c.closeFrame) return 0;
  c.closeSendPending = false;
  const b = c.builder;
  b.beginDatagram(out, Math.min(out.length, c.mtu.current), c.remoteCids.current);
  // Before the handshake is confirmed the peer may lack 1-RTT (or Handshake) keys: send the close
  // in every space we can write (RFC 9000 §10.2.3); an application close becomes APPLICATION_ERROR
  // with no reason outside 1-RTT.
  let wroteInitial = false;
  for (const sp of c.spaces) {
    if (sp.discarded || !c.keys.canWrite(sp.space)) continue;
    if (sp.space === PacketSpace.Application && !c.handshakeComplete) continue;
    if (c.handshakeConfirmed && sp.space !== PacketSpace.Application) continue;
    const f = c.closeFrame.application && sp.space !== PacketSpace.Application
      ? transportClose(TransportErrorCode.APPLICATION_ERROR, '')
      : c.closeFrame;
    if (!b.beginPacket(sp.space, sp.nextPn, c.loss.largestAcked(sp.space), c.keys.keyPhase, sp.space === PacketSpace.Initial && c.role === 'client' ? c.token : undefined)) break;
    // ACKs first, as quinn does: the peer learns what arrived before the connection ends. Without
    // it, a FIN received just before an application closes (delayed ACK pending) is never
    // acknowledged, and the peer's wait for that acknowledgment fails with the close.
    const ack = sp.ack.ackFrame(now, sp.space === PacketSpace.Application ? c.config.ackDelayExponent : 3, Math.min(c.config.maxAckRanges, CLOSE_ACK_RANGES));
    if (ack && b.writeAck(ack)) sp.ack.onAckSent();
    b.writeConnectionClose(f);
    if (sp.space === PacketSpace.Initial) wroteInitial = true;
    const isLast = sp.space === PacketSpace.Application || (c.handshakeComplete ? false : sp.space === PacketSpace.Handshake || !c.keys.canWrite(PacketSpace.Handshake));
    if (wroteInitial && c.role === 'client' && isLast) b.padTo(1200);
    b.finishPacket(c.keys.writeKeys(sp.space));
    sp.nextPn++;
    c.packetsSent++;
  }
  const len = b.finishDatagram();
  c.bytesSent += len;
  // A connection whose handshake never completed holds nothing worth a closing period (no
  // session, no streams): the CONNECTION_CLOSE is sent once and the state discarded (RFC 9000
  // §10.2 allows leaving the closing state early; the cost is at most a stateless reset).
  // Without this, a failed dial keeps its endpoint busy for 3 PTOs of the 333 ms initial RTT.
  if (!c.handshakeComplete) c.terminate();
  return len;
}

/** ACK ranges sent with a CONNECTION_CLOSE: few enough that the close frame always fits after them. */
const CLOSE_ACK_RANGES = 16;
