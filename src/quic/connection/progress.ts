import { TransportError, TransportErrorCode } from '../errors.js';
import { PacketSpace } from '../packet/space.js';
import { Level } from '../../tls/engine.js';
import type { ConnectionParts } from './parts.js';
import { qlogParameters, qlogState, qlogTlsKey } from './qlog.js';
import { pathMaxUdpPayload } from './mtu.js';
import { zeroRttLimitsKept } from './handshake.js';

/**
 * What the handshake's progress means for the parts of a connection (RFC 9001 §4): TLS's events
 * (handshake bytes to send, new secrets, the peer's transport parameters, completion), the
 * handshake's confirmation (RFC 9001 §4.1.2) and the discarding of Initial and Handshake keys
 * (§4.9). It owns no state of its own: the Handshake part owns the handshake's.
 */
export class HandshakeProgress {
  private readonly p: ConnectionParts;

  constructor(parts: ConnectionParts) {
    this.p = parts;
  }

  /** TLS was started or fed handshake bytes: acts on every event it has. */
  processTlsEvents(now: number): void {
    const p = this.p;
    const tls = p.handshake.tls;
    for (let e = tls.pollEvent(); e; e = tls.pollEvent()) {
      switch (e.kind) {
        case 'writeData': {
          const space = LEVEL_SPACE[e.level];
          if (space === undefined) throw new TransportError(TransportErrorCode.INTERNAL_ERROR, 'TLS wrote 0-RTT data');
          p.spaces.at(space).crypto.write(e.data);
          break;
        }
        case 'readSecret':
        case 'writeSecret': {
          // New read keys: packets buffered for them are processed once the packet being read is
          // done (receive.ts), since keys only ever arrive in a CRYPTO frame.
          const dir = e.kind === 'readSecret' ? 'read' : 'write';
          if (e.level === Level.EarlyData) {
            p.keys.setZeroRttSecret(e.suite, e.secret);
            p.trace.tracer?.keyUpdated('client_0rtt_secret', 'tls');
            break;
          }
          if (e.level === Level.Handshake) {
            p.keys.setHandshakeSecret(dir, e.suite, e.secret);
            if (p.role === 'client' && !p.loss.hasHandshakeKeys) p.loss.onHandshakeKeys(now, p.paths.recovery.rtt);
          } else if (e.level === Level.Application) {
            p.keys.setOneRttSecret(dir, e.suite, e.secret);
            // RFC 9001 §4.9.3: a client discards 0-RTT keys once it installs 1-RTT keys.
            if (p.role === 'client' && dir === 'write') p.keys.discardZeroRtt();
          }
          const q = p.trace.tracer;
          if (q && e.level !== Level.Initial) {
            const writer = dir === 'write' ? p.role : p.role === 'client' ? 'server' : 'client';
            qlogTlsKey(q, writer, e.level === Level.Handshake ? 'handshake' : '1rtt');
          }
          break;
        }
        case 'peerTransportParameters':
          this.onPeerParams(now, e.data);
          break;
        case 'handshakeDone':
          this.onComplete(now);
          break;
        case 'sessionTicket':
          // RFC 9001 §4.6.1: early_data in a NewSessionTicket must say 0xffffffff in QUIC.
          if (e.maxEarlyData !== undefined && e.maxEarlyData !== 0xffffffff) {
            throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, `NewSessionTicket max_early_data_size ${e.maxEarlyData} (QUIC allows only 0xffffffff)`);
          }
          // For the session layer's ticket store; a ticket it cannot use is dropped here.
          if (e.resumption) p.events.push({ type: 'sessionTicket', ticket: e.resumption });
          break;
        case 'earlyData':
          this.onEarlyData(now, e.accepted);
          break;
      }
    }
  }

  /** RFC 9001 §4.1.2: the handshake is confirmed (HANDSHAKE_DONE received, or a server completed). */
  onConfirmed(now: number): void {
    const p = this.p;
    if (!p.handshake.onConfirmed()) return;
    this.logState();
    p.loss.onHandshakeConfirmed(now, p.paths.recovery.rtt);
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed.
    this.discardSpace(PacketSpace.Initial, now);
    this.discardSpace(PacketSpace.Handshake, now);
    const peer = p.handshake.peerParams;
    if (p.config.mtuDiscovery && peer) p.paths.recovery.mtu.enable(peer.maxUdpPayloadSize, pathMaxUdpPayload(p.paths.current.address, p.config.mtuUpperBound));
    p.nat?.onConfirmed(now);
    p.events.push({ type: 'handshakeConfirmed' });
  }

  /** Keys of `space` are discarded (RFC 9001 §4.9): its packets leave flight; packets waiting for them are dropped. */
  discardSpace(space: PacketSpace, now: number): void {
    const p = this.p;
    const sp = p.spaces.at(space);
    if (sp.discarded) return;
    sp.discard();
    p.keys.discard(space);
    const r = p.paths.recovery;
    r.cc.onPacketsDiscarded(p.loss.discardSpace(space, now, r.rtt));
  }

  /** qlog: the connection's state, when it changed (one datagram can start, complete and confirm the handshake). */
  logState(): void {
    const p = this.p;
    p.trace.tracer?.stateChanged(qlogState(p.lifecycle.state, p.handshake));
  }

  /**
   * The 0-RTT offered is accepted or rejected (RFC 9001 §4.6.2). A client stops sending 0-RTT
   * either way (what follows goes in 1-RTT, with the server's new parameters: RFC 9000 §7.4.1
   * keeps the remembered ones for 0-RTT packets only). On rejection the server processed none of
   * it: the 0-RTT packets leave flight, unacknowledged and not lost, the streams are rewound to
   * their state before any was sent (their data goes again in 1-RTT, RFC 9001 §4.6.2: "MUST
   * reset the state of all streams") and the datagrams are reported dropped. A server that
   * rejects drops the 0-RTT packets it buffered and any that follow.
   */
  private onEarlyData(now: number, accepted: boolean): void {
    const p = this.p;
    if (p.role === 'client') {
      p.keys.discardZeroRtt();
      if (!accepted) {
        const r = p.paths.recovery;
        r.cc.onPacketsDiscarded(p.loss.forgetSpace(PacketSpace.Application, now, r.rtt));
        p.streams.rewindForRejectedEarlyData();
        p.datagrams.onEarlyData(false);
      } else {
        p.datagrams.onEarlyData(true);
      }
    } else if (!accepted) {
      p.keys.discardZeroRtt();
    }
    p.events.push({ type: 'earlyData', accepted });
  }

  private onPeerParams(now: number, data: Uint8Array): void {
    const p = this.p;
    const params = p.handshake.onPeerParams(data);
    const remembered = p.handshake.rememberedParams;
    if (remembered && p.handshake.tls.earlyData === 'accepted' && !zeroRttLimitsKept(remembered, params)) {
      // RFC 9000 §7.4.1: a server accepting 0-RTT must not reduce the limits 0-RTT relied on.
      throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'the server accepted 0-RTT but reduced a remembered transport parameter');
    }
    if (p.role === 'client' && params.statelessResetToken) p.remoteCids.setInitialResetToken(params.statelessResetToken);
    const q = p.trace.tracer;
    if (q) q.emit({ time: q.now, name: 'transport:parameters_set', data: qlogParameters('remote', params) });
    p.streams.setPeerParams(params);
    p.loss.setMaxAckDelay(params.maxAckDelay, now, p.paths.recovery.rtt);
    p.datagrams.setPeerMaxFrameSize(params.maxDatagramFrameSize);
    p.idle.onPeerTimeout(params.maxIdleTimeout);
    p.localCids.setPeerLimit(Math.min(params.activeConnectionIdLimit, 8));
  }

  /**
   * Client offering 0-RTT: the server's remembered transport parameters (RFC 9000 §7.4.1) apply
   * to the streams and datagrams until its new ones arrive (not the ones §7.4.1 excludes: ACK
   * delays, connection ids, reset token, which come with the handshake).
   */
  applyRememberedParams(): void {
    const p = this.p;
    const r = p.handshake.rememberedParams;
    if (!r || p.handshake.tls.earlyData !== 'offered') return;
    p.streams.setPeerParams(r);
    p.datagrams.setPeerMaxFrameSize(r.maxDatagramFrameSize);
  }

  private onComplete(now: number): void {
    const p = this.p;
    p.handshake.onComplete();
    // draft-ietf-quic-multipath §5.1: connection ids for the other path ids, once multipath is in use.
    const n = p.handshake.multipath;
    if (n !== null) p.multipath.issueCids(n, p.handshake.peerParams?.activeConnectionIdLimit ?? 2);
    // iroh's n0 NAT traversal, when both sides offered it and multipath (nat.ts).
    p.qad?.start(p.handshake.peerParams?.addressDiscovery ?? null);
    if (n?.natTraversal && p.nat) {
      p.nat.start(p.role, n.natTraversal.maxRemoteAddresses, n.natTraversal.maxLocalAddresses, p.config.initialRttMs);
      p.paths.allowPeerProbes();
    }
    p.lifecycle.onEstablished();
    this.logState();
    p.events.push({ type: 'connected' });
    // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
    if (p.role === 'server') this.onConfirmed(now);
  }
}

const LEVEL_SPACE: Partial<Record<Level, PacketSpace>> = {
  [Level.Initial]: PacketSpace.Initial,
  [Level.Handshake]: PacketSpace.Handshake,
  [Level.Application]: PacketSpace.Application,
};
