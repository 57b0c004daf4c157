import { binaryStringEquals, binaryStringEqualsConstantTime, fromBinaryString, toBinaryString, toHex } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode, protocolViolation } from '../errors.js';
import type { Random } from '../../tls/random.js';

/**
 * Connection IDs (RFC 9000 §5.1): the ones we issue to the peer (`LocalCids`, the peer puts them
 * in the Destination Connection ID of packets to us) and the ones the peer issued to us
 * (`RemoteCids`, we send with them).
 *
 * Both sides keep "what still needs sending" as pending sets, not as frames: a lost
 * NEW_CONNECTION_ID is re-sent only while its CID is still active, a lost RETIRE_CONNECTION_ID is
 * always re-sent (loss recovery retransmits information, not packets).
 */

/** Largest CID length in QUIC v1 (RFC 9000 §17.2). */
export const MAX_CID_LENGTH = 20;
/** Stateless reset tokens are 16 bytes (RFC 9000 §10.3). */
export const RESET_TOKEN_LENGTH = 16;

export interface IssuedCid {
  readonly seq: number;
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array;
}

/** A NEW_CONNECTION_ID frame's content, to be written by the packet builder. */
export interface NewCidFrameInfo extends IssuedCid {
  readonly retirePriorTo: number;
}

/** Computes the stateless reset token of a CID (the endpoint's keyed hash, RFC 9000 §10.3.2). */
export type ResetTokenFn = (cid: Uint8Array) => Uint8Array;

/**
 * The CIDs we issued. Sequence 0 is the Source Connection ID of our first long-header packet
 * (its reset token, for a server, goes in the stateless_reset_token transport parameter).
 */
export class LocalCids {
  readonly cidLength: number;
  private readonly random: Random;
  private readonly resetToken: ResetTokenFn;
  /**
   * Active (issued, not retired by the peer), flat: sequence number, the CID as a binary string,
   * sequence number, ... (`toBinaryString`: ~24 bytes of heap, a `Uint8Array` ~180; a few entries,
   * so a scan is cheap where a Map costs ~200 B; issue [perf2], heap per idle connection). Their
   * reset tokens are not kept: the endpoint's keyed hash gives them again when a frame or the
   * transport parameters need one.
   */
  private active: Array<number | string> | undefined;
  private nextSeq = 0;
  /** Sequence numbers whose NEW_CONNECTION_ID must be (re)sent; undefined when none (an empty Set is ~150 B). */
  private pending: Set<number> | undefined;
  /** The peer's active_connection_id_limit (RFC 9000 §18.2; 2 until its parameters arrive). */
  private peerLimit = 2;
  /** Routing changes for the endpoint core: CIDs to add to / remove from its table (made by the first). */
  private added: Uint8Array[] | undefined;
  private retired: Uint8Array[] | undefined;
  /** Most CIDs we issue over the connection's life (bounds a peer that retires in a loop). */
  private readonly maxIssued: number;

  constructor(cidLength: number, random: Random, resetToken: ResetTokenFn, maxIssued = 64) {
    if (!Number.isInteger(cidLength) || cidLength < 0 || cidLength > MAX_CID_LENGTH) {
      throw new RangeError(`connection ID length must be 0..${MAX_CID_LENGTH}, got ${cidLength}`);
    }
    this.cidLength = cidLength;
    this.random = random;
    this.resetToken = resetToken;
    this.maxIssued = maxIssued;
  }

  /** Issues sequence 0 (our handshake Source Connection ID). Call once. */
  issueInitial(): IssuedCid {
    if (this.nextSeq !== 0) throw new Error('initial CID already issued');
    return this.issue(false);
  }

  /** Our current handshake CID (sequence 0) if still active. */
  get initial(): IssuedCid | undefined {
    const c = this.cidOf(0);
    return c === undefined ? undefined : this.withToken(0, fromBinaryString(c));
  }

  /** Active CIDs (for tests and the endpoint's routing table). */
  activeCids(): IssuedCid[] {
    const out: IssuedCid[] = [];
    const a = this.active;
    if (a !== undefined) for (let i = 0; i < a.length; i += 2) out.push(this.withToken(a[i] as number, fromBinaryString(a[i + 1] as string)));
    return out;
  }

  /** True when `cid` is one of ours and active. */
  isActive(cid: Uint8Array): boolean {
    const a = this.active;
    if (a !== undefined) for (let i = 1; i < a.length; i += 2) if (binaryStringEquals(a[i] as string, cid)) return true;
    return false;
  }

  /** How many are active. */
  private get activeCount(): number {
    return (this.active?.length ?? 0) / 2;
  }

  /** The index of sequence `seq` in `active`, or -1. */
  private indexOf(seq: number): number {
    const a = this.active;
    if (a !== undefined) for (let i = 0; i < a.length; i += 2) if (a[i] === seq) return i;
    return -1;
  }

  /** The active CID of sequence `seq` (binary string), or undefined. */
  private cidOf(seq: number): string | undefined {
    const i = this.indexOf(seq);
    return i < 0 ? undefined : (this.active![i + 1] as string);
  }

  /**
   * The peer's active_connection_id_limit is known (its transport parameters arrived): issue
   * CIDs up to it (RFC 9000 §5.1.1: "MUST NOT provide more connection IDs than the peer's limit").
   * A zero-length CID cannot be replaced, so nothing is issued then.
   */
  setPeerLimit(limit: number): void {
    this.peerLimit = limit;
    this.topUp();
  }

  /** How many CIDs we keep issued (`setPeerLimit`'s last value; 2 before any). */
  get issueLimit(): number {
    return this.peerLimit;
  }

  /**
   * RETIRE_CONNECTION_ID from the peer (RFC 9000 §19.16). `packetDcid` is the DCID of the packet
   * that carried the frame: retiring it is a PROTOCOL_VIOLATION. `frameType` names the frame in
   * the error (PATH_RETIRE_CONNECTION_ID for a multipath path id).
   */
  onRetire(seq: number, packetDcid: Uint8Array, frameType = 0x19): void {
    if (seq >= this.nextSeq) {
      throw protocolViolation(`RETIRE_CONNECTION_ID for sequence ${seq} never issued`, frameType);
    }
    const at = this.indexOf(seq);
    if (at < 0) return; // already retired: a duplicate frame
    const c = this.active![at + 1] as string;
    if (binaryStringEquals(c, packetDcid)) {
      throw protocolViolation('RETIRE_CONNECTION_ID retires the CID of its own packet', frameType);
    }
    this.active!.splice(at, 2);
    this.dropPending(seq);
    (this.retired ??= []).push(fromBinaryString(c));
    this.topUp();
  }

  /** True when a NEW_CONNECTION_ID is owed (`peekPending` would give one), without computing its token. */
  get hasPending(): boolean {
    if (this.pending === undefined) return false;
    for (const seq of this.pending) if (this.indexOf(seq) >= 0) return true;
    return false;
  }

  /** Next NEW_CONNECTION_ID to send, or undefined. Call `onNewCidSent` once it is in a packet. */
  peekPending(): NewCidFrameInfo | undefined {
    if (this.pending === undefined) return undefined;
    for (const seq of this.pending) {
      const c = this.cidOf(seq);
      if (c !== undefined) {
        const cid = fromBinaryString(c);
        return { seq, cid, resetToken: this.resetToken(cid), retirePriorTo: 0 };
      }
      this.dropPending(seq);
    }
    return undefined;
  }

  onNewCidSent(seq: number): void {
    this.dropPending(seq);
  }

  /** A packet carrying NEW_CONNECTION_ID `seq` was lost: re-send if the CID is still active. */
  onNewCidLost(seq: number): void {
    if (this.indexOf(seq) >= 0) (this.pending ??= new Set()).add(seq);
  }

  private dropPending(seq: number): void {
    if (this.pending === undefined) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.pending = undefined;
  }

  /** Whether `takeAdded` or `takeRetired` has anything (asked per datagram sent: allocates nothing). */
  get hasChanges(): boolean {
    return this.added !== undefined || this.retired !== undefined;
  }

  /** CIDs added since the last call (the endpoint routes them to this connection). */
  takeAdded(): Uint8Array[] {
    const a = this.added ?? [];
    this.added = undefined;
    return a;
  }

  /** CIDs retired since the last call (the endpoint stops routing them). */
  takeRetired(): Uint8Array[] {
    const r = this.retired ?? [];
    this.retired = undefined;
    return r;
  }

  private topUp(): void {
    if (this.cidLength === 0) return;
    while (this.activeCount < this.peerLimit && this.nextSeq < this.maxIssued) this.issue(true);
  }

  private issue(announce: boolean): IssuedCid {
    const cid = this.random.fill(new Uint8Array(this.cidLength));
    const seq = this.nextSeq++;
    // Sized exactly, concat rather than push (a push reserves room for 16 more slots, held for the
    // connection's life); CIDs are issued a few at a time, so the copies cost nothing.
    if (this.active === undefined) this.active = [seq, toBinaryString(cid)];
    else this.active = this.active.concat([seq, toBinaryString(cid)]);
    (this.added ??= []).push(cid);
    if (announce) (this.pending ??= new Set()).add(seq);
    return this.withToken(seq, cid);
  }

  private withToken(seq: number, cid: Uint8Array): IssuedCid {
    return { seq, cid, resetToken: this.resetToken(cid) };
  }
}

/**
 * The peer's CIDs as kept, flat, `STRIDE` slots each ([perf2]: a Map of objects cost ~780 B of an
 * idle connection): the sequence number; the CID as a binary string (`toBinaryString`); its reset
 * token as one, or undefined for sequence 0 until known (a client learns it from the server's
 * stateless_reset_token transport parameter; a server never gets one for sequence 0); and 1 once
 * we have sent with it (RFC 9000 §9.5: a CID used toward one peer address is not used toward
 * another; a path switch takes an unused one, `unusedSequence`), else 0.
 */
type RemoteCidSlots = Array<number | string | undefined>;
const STRIDE = 4;

/** The CIDs the peer issued to us; we send with one of them (`current`). */
export class RemoteCids {
  /** Our active_connection_id_limit: most peer CIDs we keep active. */
  readonly limit: number;
  /** Active, flat (`RemoteCidSlots`): sequence, CID, reset token, used, sequence, ... */
  private active: RemoteCidSlots;
  private currentSeq = 0;
  /** The bytes of the current CID (every packet we send carries them). */
  private currentCid: Uint8Array;
  private retirePriorTo = 0;
  /** Sequence numbers we must retire (RETIRE_CONNECTION_ID pending or lost); made by the first. */
  private pendingRetire: Set<number> | undefined;
  private readonly zeroLength: boolean;

  /** `initialCid`: the Source Connection ID of the peer's first long-header packet (seq 0). */
  constructor(initialCid: Uint8Array, limit: number) {
    if (limit < 2) throw new RangeError(`active_connection_id_limit must be >= 2, got ${limit}`);
    this.limit = limit;
    this.zeroLength = initialCid.length === 0;
    this.active = [0, toBinaryString(initialCid), undefined, 1];
    this.currentCid = initialCid;
  }

  /** The DCID to put in packets we send. */
  get current(): Uint8Array {
    return this.currentCid;
  }

  /** Sequence number of `current`. */
  get currentSequence(): number {
    return this.currentSeq;
  }

  /** The CID of sequence `seq` while it is active, else undefined. */
  cidOf(seq: number): Uint8Array | undefined {
    const i = this.indexOf(seq);
    return i < 0 ? undefined : fromBinaryString(this.active[i + 1] as string);
  }

  /**
   * The lowest active sequence never sent with, or undefined when the peer gave us no spare
   * (RFC 9000 §9.5: then a path switch keeps the current CID, which §9.5 allows when the peer's
   * address changed under it, as in NAT rebinding). A zero-length CID has no spare.
   */
  unusedSequence(): number | undefined {
    let best: number | undefined;
    const a = this.active;
    for (let i = 0; i < a.length; i += STRIDE) {
      const s = a[i] as number;
      if (a[i + 3] === 0 && (best === undefined || s < best)) best = s;
    }
    return best;
  }

  /** Sends with sequence `seq` from now on (it must be active). */
  use(seq: number): void {
    const i = this.indexOf(seq);
    if (i < 0) throw new RangeError(`peer connection ID ${seq} is not active`);
    this.setCurrent(i);
  }

  /** Sends with the CID at index `i` of `active`. */
  private setCurrent(i: number): void {
    const seq = this.active[i] as number;
    if (seq !== this.currentSeq) this.currentCid = fromBinaryString(this.active[i + 1] as string);
    this.currentSeq = seq;
    this.active[i + 3] = 1;
  }

  private addRetire(seq: number): void {
    (this.pendingRetire ??= new Set()).add(seq);
  }

  /** The index of sequence `seq` in `active`, or -1. */
  private indexOf(seq: number): number {
    const a = this.active;
    for (let i = 0; i < a.length; i += STRIDE) if (a[i] === seq) return i;
    return -1;
  }

  /**
   * We stop using sequence `seq` (a path it served was abandoned, RFC 9000 §5.1.2): it leaves the
   * active set and a RETIRE_CONNECTION_ID is queued, which lets the peer issue a replacement. The
   * current CID is never retired this way; an inactive one is already retired.
   */
  retire(seq: number): void {
    if (seq === this.currentSeq) return;
    const i = this.indexOf(seq);
    if (i < 0) return;
    this.active.splice(i, STRIDE);
    this.addRetire(seq);
  }

  /**
   * Path 0 was abandoned (draft-ietf-quic-multipath §3.4): every CID of it but the current one is
   * retired (the current one stays: a CONNECTION_CLOSE with nowhere else to go still needs one).
   */
  retireAllButCurrent(): void {
    const seqs: number[] = [];
    for (let i = 0; i < this.active.length; i += STRIDE) seqs.push(this.active[i] as number);
    for (const seq of seqs) this.retire(seq);
  }

  /**
   * The peer's handshake CID changed before it was confirmed (a client learns the server's
   * chosen CID from its first Initial, RFC 9000 §7.2).
   */
  replaceInitial(cid: Uint8Array): void {
    const i = this.indexOf(0);
    const entry = [0, toBinaryString(cid), undefined, 1];
    if (i < 0) this.active.push(...entry);
    else this.active.splice(i, STRIDE, ...entry);
    if (this.currentSeq === 0) this.currentCid = cid;
  }

  /** The server's stateless_reset_token transport parameter applies to sequence 0. */
  setInitialResetToken(token: Uint8Array): void {
    const i = this.indexOf(0);
    if (i >= 0) this.active[i + 2] = toBinaryString(token);
  }

  /** NEW_CONNECTION_ID from the peer (RFC 9000 §19.15, §5.1.2). */
  onNewCid(seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    if (this.zeroLength) {
      throw protocolViolation('NEW_CONNECTION_ID from a peer that uses zero-length CIDs', 0x18);
    }
    let a = this.active;
    const known = this.indexOf(seq);
    if (known >= 0) {
      // A repeated frame is fine; the same sequence with other contents is not.
      const token = a[known + 2] as string | undefined;
      if (!binaryStringEquals(a[known + 1] as string, cid) || (token !== undefined && !binaryStringEquals(token, resetToken))) {
        throw protocolViolation(`sequence ${seq} reused for another CID`, 0x18);
      }
      return;
    }
    for (let i = 1; i < a.length; i += STRIDE) {
      if (binaryStringEquals(a[i] as string, cid)) throw protocolViolation(`CID ${toHex(cid)} repeated with another sequence`, 0x18);
    }
    if (seq < this.retirePriorTo) {
      // Already covered by an earlier Retire Prior To: retire it straight away (§19.15).
      this.addRetire(seq);
    } else {
      // Concat, not push: sized exactly (a push reserves 16 more slots, held for the connection's life).
      a = this.active = a.concat([seq, toBinaryString(cid), toBinaryString(resetToken), 0]);
    }
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo;
      for (let i = a.length - STRIDE; i >= 0; i -= STRIDE) {
        const s = a[i] as number;
        if (s < retirePriorTo) {
          a.splice(i, STRIDE);
          this.addRetire(s);
        }
      }
      if (this.indexOf(this.currentSeq) < 0) {
        let next = -1;
        for (let i = 0; i < a.length; i += STRIDE) if (next < 0 || (a[i] as number) < (a[next] as number)) next = i;
        if (next < 0) {
          throw protocolViolation('Retire Prior To retires every connection ID', 0x18);
        }
        this.setCurrent(next);
      }
    }
    if (this.activeCount > this.limit) {
      throw new TransportError(
        TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        `${this.activeCount} active connection IDs exceed our limit of ${this.limit}`,
        0x18,
      );
    }
    // RFC 9000 §5.1.2: retirements not yet acknowledged are bounded (we allow 2x the limit).
    if ((this.pendingRetire?.size ?? 0) > 2 * this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, 'too many connection IDs to retire', 0x18);
    }
  }

  /** Next RETIRE_CONNECTION_ID sequence to send, or undefined. */
  peekRetire(): number | undefined {
    if (this.pendingRetire !== undefined) for (const s of this.pendingRetire) return s;
    return undefined;
  }

  onRetireSent(seq: number): void {
    if (this.pendingRetire === undefined) return;
    this.pendingRetire.delete(seq);
    if (this.pendingRetire.size === 0) this.pendingRetire = undefined;
  }

  onRetireLost(seq: number): void {
    this.addRetire(seq);
  }

  /** Number of active peer CIDs (tests, stats). */
  get activeCount(): number {
    return this.active.length / STRIDE;
  }

  /**
   * RFC 9000 §10.3.1: a datagram whose last 16 bytes equal the reset token of an active peer CID
   * is a Stateless Reset. Compared in constant time.
   */
  isStatelessReset(datagram: Uint8Array): boolean {
    if (datagram.length < 21) return false; // §10.3: shorter packets cannot be resets we honour
    const tail = datagram.length - RESET_TOKEN_LENGTH;
    let match = false;
    const a = this.active;
    for (let i = 2; i < a.length; i += STRIDE) {
      const token = a[i] as string | undefined;
      if (token !== undefined && binaryStringEqualsConstantTime(token, datagram, tail)) match = true;
    }
    return match;
  }
}
