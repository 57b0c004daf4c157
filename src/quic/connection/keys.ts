import type { PacketKey } from '../crypto/aead.js';
import type { DirectionalKeys, KeyPhase, KeySet } from '../crypto/keys.js';
import { OneRttKeys, REAL_KEYS, deriveDirectionalKeys } from '../crypto/keys.js';
import { NULL_KEYS, nullDirectionalKeys, nullKeySet } from '../crypto/null.js';
import { initialKeys } from '../crypto/initial.js';
import { PacketSpace } from '../packet/space.js';
import type { CipherSuite } from '../../tls/suites.js';

/**
 * The packet protection keys of one connection, per packet number space, and the 1-RTT key
 * update policy (RFC 9001 §4.9 key discard, §6 key update).
 *
 * Policy lives here, timing is the caller's: the connection says when a packet was opened with
 * which key, when one was sent, when an ACK arrived, and asks whether an update may start.
 */
export class ConnectionKeys {
  private readonly isClient: boolean;
  private initial: KeySet | undefined;
  /** Handshake keys: the directions arrive separately (a server writes before it can read). */
  private hsRead: DirectionalKeys | undefined;
  private hsWrite: DirectionalKeys | undefined;
  private oneRtt: OneRttKeys | undefined;
  /** Write keys of the current 1-RTT phase as one object (rebuilt on update: no allocation per packet). */
  private oneRttWrite: DirectionalKeys | undefined;
  /**
   * 0-RTT keys (RFC 9001 §4.6), one direction: a client's write, a server's read. The phase says
   * where 0-RTT stands: `none` (not offered; a server: not decided yet), `keys` (usable), `done`
   * (rejected or discarded, RFC 9001 §4.9.3: 0-RTT packets are dropped from then on).
   */
  private zeroRtt: DirectionalKeys | undefined;
  private zeroRttPhase: 'none' | 'keys' | 'done' = 'none';
  private pendingReadSecret: { suite: CipherSuite; secret: Uint8Array } | undefined;
  private pendingWriteSecret: { suite: CipherSuite; secret: Uint8Array } | undefined;

  /** First packet number we sent in the current key phase (-1: none yet). */
  private firstSentInPhase = -1;
  /** First packet number received in the current phase (to tell previous-phase stragglers). */
  private firstReceivedInPhase = -1;
  /** An ACK acknowledged a packet of the current phase: a new update may start (§6.1). */
  private currentPhaseAcked = true;
  /** When the previous read key is dropped (ms), or Infinity. */
  private discardPreviousAt = Number.POSITIVE_INFINITY;
  /** Packets sealed with the current 1-RTT write key (confidentiality limit, §6.6). */
  private sealedInPhase = 0;
  /** Packets that failed authentication, over the connection (integrity limit, §6.6). */
  private authFailures = 0;
  /**
   * Multipath (draft-ietf-quic-multipath §4.4 [key update]: one key phase for the connection,
   * every path id's packet numbers its own): the first packet numbers sent and received in the
   * current phase on path ids ≥ 1, as `firstSentInPhase` / `firstReceivedInPhase` are path 0's.
   * Made when a path id ≥ 1 first sends or receives; cleared by each update.
   */
  private pathPhase: Map<number, { sent: number; received: number }> | undefined;
  /** The path id of the packet `selectReadKey` is asked about (set by the receive path). */
  private readPathId = 0;

  /** Key updates so far. */
  get updates(): number {
    return this.oneRtt?.generation ?? 0;
  }

  /** Whether Initial keys are installed. */
  get hasInitialKeys(): boolean {
    return this.initial !== undefined;
  }

  /** When the previous 1-RTT read key is dropped (ms), or Infinity: a timer of the connection. */
  get previousReadDiscardAt(): number {
    return this.discardPreviousAt;
  }

  /**
   * RFC 9001 §6.6: the 1-RTT write key should be updated, because `interval` packets were sealed
   * with it (0: no periodic update) or it nears 90% of its AEAD's confidentiality limit.
   */
  updateDue(interval: number): boolean {
    const k = this.oneRtt;
    if (!k) return false;
    const limit = Math.floor(k.suite.confidentialityLimit * 0.9);
    return (interval > 0 && this.sealedInPhase >= interval) || this.sealedInPhase >= limit;
  }

  /**
   * A packet failed authentication. Returns true once more failed than the integrity limit of the
   * AEAD allows over the connection (RFC 9001 §6.6: AEAD_LIMIT_REACHED).
   */
  onAuthFailure(): boolean {
    return ++this.authFailures > (this.oneRtt?.suite.integrityLimit ?? 2 ** 52);
  }

  /** Null packet protection (TransportConfig.insecureNullKeys): benchmarks of the protocol logic only. */
  private readonly nullKeys: boolean;

  constructor(isClient: boolean, nullKeys = false) {
    this.isClient = isClient;
    this.nullKeys = nullKeys;
  }

  /** Initial keys from the client's Destination Connection ID (RFC 9001 §5.2). */
  setInitial(dcid: Uint8Array): void {
    this.initial = this.nullKeys ? nullKeySet() : initialKeys(dcid, this.isClient);
  }

  /** A TLS secret for the Handshake level. */
  setHandshakeSecret(dir: 'read' | 'write', suite: CipherSuite, secret: Uint8Array): void {
    const keys = this.nullKeys ? nullDirectionalKeys() : deriveDirectionalKeys(suite, secret);
    if (dir === 'read') this.hsRead = keys;
    else this.hsWrite = keys;
  }

  /** A TLS secret for the 1-RTT level; the keys exist once both directions are known. */
  setOneRttSecret(dir: 'read' | 'write', suite: CipherSuite, secret: Uint8Array): boolean {
    if (dir === 'read') this.pendingReadSecret = { suite, secret };
    else this.pendingWriteSecret = { suite, secret };
    if (this.pendingReadSecret && this.pendingWriteSecret) {
      this.oneRtt = new OneRttKeys(suite, this.pendingReadSecret.secret, this.pendingWriteSecret.secret, this.nullKeys ? NULL_KEYS : REAL_KEYS);
      this.pendingReadSecret = undefined;
      this.pendingWriteSecret = undefined;
      this.rebuildWrite();
      return true;
    }
    return false;
  }

  /** A TLS secret for 0-RTT (client: write, server: read). */
  setZeroRttSecret(suite: CipherSuite, secret: Uint8Array): void {
    if (this.zeroRttPhase === 'done') return;
    this.zeroRtt = this.nullKeys ? nullDirectionalKeys() : deriveDirectionalKeys(suite, secret);
    this.zeroRttPhase = 'keys';
  }

  /** 0-RTT is over (rejected, or its keys discarded, RFC 9001 §4.9.3): no 0-RTT packet is sealed or opened any more. */
  discardZeroRtt(): void {
    this.zeroRtt = undefined;
    this.zeroRttPhase = 'done';
  }

  /** 0-RTT keys are installed. */
  get hasZeroRtt(): boolean {
    return this.zeroRtt !== undefined;
  }

  /** 0-RTT is over: 0-RTT packets are dropped, not buffered. */
  get zeroRttDone(): boolean {
    return this.zeroRttPhase === 'done';
  }

  /** The 0-RTT keys (must exist): sealing (client) or opening (server). */
  get zeroRttKeys(): DirectionalKeys {
    return this.zeroRtt!;
  }

  /** Whether packets of `space` can be sealed. */
  canWrite(space: PacketSpace): boolean {
    if (space === PacketSpace.Initial) return this.initial !== undefined;
    if (space === PacketSpace.Handshake) return this.hsWrite !== undefined;
    return this.oneRtt !== undefined;
  }

  /** Whether packets of `space` can be opened. */
  canRead(space: PacketSpace): boolean {
    if (space === PacketSpace.Initial) return this.initial !== undefined;
    if (space === PacketSpace.Handshake) return this.hsRead !== undefined;
    return this.oneRtt !== undefined;
  }

  discard(space: PacketSpace): void {
    if (space === PacketSpace.Initial) {
      this.initial = undefined;
    } else if (space === PacketSpace.Handshake) {
      this.hsRead = undefined;
      this.hsWrite = undefined;
    }
  }

  /** Write keys of `space` (must exist). */
  writeKeys(space: PacketSpace): DirectionalKeys {
    if (space === PacketSpace.Initial) return this.initial!.write;
    if (space === PacketSpace.Handshake) return this.hsWrite!;
    return this.oneRttWrite!;
  }

  /** The 1-RTT read header protection key, if there is one yet (the same across key updates, RFC 9001 §6). */
  get oneRttReadHeader(): DirectionalKeys['header'] | undefined {
    return this.oneRtt?.readHeader;
  }

  /** Header protection key to remove protection of a received packet of `space`. */
  readHeaderKey(space: PacketSpace): DirectionalKeys['header'] {
    if (space === PacketSpace.Initial) return this.initial!.read.header;
    if (space === PacketSpace.Handshake) return this.hsRead!.header;
    return this.oneRtt!.readHeader;
  }

  /** Packet key for a long-header packet of `space`. */
  readPacketKey(space: PacketSpace): PacketKey {
    return space === PacketSpace.Initial ? this.initial!.read.packet : this.hsRead!.packet;
  }

  /** The current key phase bit to send. */
  get keyPhase(): KeyPhase {
    return this.oneRtt?.keyPhase ?? 0;
  }

  /**
   * RFC 9001 §6.3/§6.5: the key for a 1-RTT packet with Key Phase `bit` and packet number `pn`.
   * The other phase is the previous one when the packet is older than the first packet of the
   * current phase, else the next one (a peer-initiated update, confirmed when it opens).
   */
  selectReadKey = (bit: KeyPhase, pn: number): PacketKey | null => {
    const k = this.oneRtt!;
    if (bit === k.keyPhase) return k.read;
    const first = this.firstReceivedOn(this.readPathId);
    if (k.previousRead !== null && (first < 0 || pn < first)) return k.previousRead;
    return k.nextRead;
  };

  /** The next `selectReadKey` is about a packet of path id `pathId` (its packet numbers are its own). */
  readingPath(pathId: number): void {
    this.readPathId = pathId;
  }

  /**
   * A 1-RTT packet opened. Returns true when it was the peer's key update (its bit is the next
   * phase), which this method then performs: our write keys follow (§6.2).
   */
  onOneRttOpened(bit: KeyPhase, pn: number, now: number, pto: number, pathId = 0): boolean {
    const k = this.oneRtt!;
    const first = this.firstReceivedOn(pathId);
    if (bit === k.keyPhase) {
      if (first < 0 || pn < first) this.setFirstReceived(pathId, pn);
      return false;
    }
    if (k.previousRead !== null && (first < 0 || pn < first)) return false;
    // draft-ietf-quic-multipath: the update is the connection's, whichever path id showed it
    // first; the other path ids' packets of the old phase are told apart by their own numbers.
    this.doUpdate(now, pto);
    this.firstReceivedInPhase = -1;
    this.setFirstReceived(pathId, pn);
    return true;
  }

  private firstReceivedOn(pathId: number): number {
    return pathId === 0 ? this.firstReceivedInPhase : (this.pathPhase?.get(pathId)?.received ?? -1);
  }

  private setFirstReceived(pathId: number, pn: number): void {
    if (pathId === 0) this.firstReceivedInPhase = pn;
    else this.phaseOf(pathId).received = pn;
  }

  private phaseOf(pathId: number): { sent: number; received: number } {
    this.pathPhase ??= new Map();
    let e = this.pathPhase.get(pathId);
    if (e === undefined) {
      e = { sent: -1, received: -1 };
      this.pathPhase.set(pathId, e);
    }
    return e;
  }

  /** Whether a locally initiated update may start now (§6.1: the current phase was acked). */
  get canInitiateUpdate(): boolean {
    return this.oneRtt !== undefined && this.currentPhaseAcked && (this.firstSentInPhase >= 0 || this.sentInPhaseOnOtherPath());
  }

  private sentInPhaseOnOtherPath(): boolean {
    if (this.pathPhase === undefined) return false;
    for (const e of this.pathPhase.values()) if (e.sent >= 0) return true;
    return false;
  }

  /**
   * RFC 9001 §6.6: starts a key update when one is due (`updateDue`) and allowed (call only once
   * the handshake is confirmed, §6.1).
   */
  maybeUpdate(now: number, interval: number, pto: number): void {
    if (this.canInitiateUpdate && this.updateDue(interval)) this.initiateUpdate(now, pto);
  }

  /** Starts a key update (check `canInitiateUpdate` first). */
  initiateUpdate(now: number, pto: number): void {
    this.doUpdate(now, pto);
    this.firstReceivedInPhase = -1;
  }

  /** A 1-RTT packet `pn` was sealed with the current keys. */
  onOneRttSent(pn: number, pathId = 0): void {
    this.sealedInPhase++;
    if (pathId !== 0) {
      const e = this.phaseOf(pathId);
      if (e.sent < 0) e.sent = pn;
      // §6.1's "acknowledged in the current phase" is asked of path 0's numbers: a path id ≥ 1
      // makes the phase count as sent there only through its own acknowledgments.
      return;
    }
    if (this.firstSentInPhase < 0) this.firstSentInPhase = pn;
  }

  /** The peer acknowledged 1-RTT packets up to `largest`. */
  onOneRttAcked(largest: number): void {
    if (this.firstSentInPhase >= 0 && largest >= this.firstSentInPhase) this.currentPhaseAcked = true;
  }

  /** The peer acknowledged packets of path id `pathId` ≥ 1 up to `largest` (PATH_ACK). */
  onOneRttAckedOn(pathId: number, largest: number): void {
    const sent = this.pathPhase?.get(pathId)?.sent ?? -1;
    if (sent >= 0 && largest >= sent) this.currentPhaseAcked = true;
  }

  /** Drops the previous read key when its time came (§6.5: about 3 PTO after an update). */
  onTimeout(now: number): void {
    if (now >= this.discardPreviousAt) {
      this.oneRtt?.discardPrevious();
      this.discardPreviousAt = Number.POSITIVE_INFINITY;
    }
  }

  private doUpdate(now: number, pto: number): void {
    this.oneRtt!.update();
    this.rebuildWrite();
    this.firstSentInPhase = -1;
    this.currentPhaseAcked = false;
    this.sealedInPhase = 0;
    this.pathPhase?.clear();
    this.discardPreviousAt = now + 3 * pto;
  }

  private rebuildWrite(): void {
    const k = this.oneRtt!;
    this.oneRttWrite = { packet: k.write, header: k.writeHeader };
  }
}
