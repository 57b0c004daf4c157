import { bytesEqual, constantTimeEqual, toHex } from '../../codec/bytes.js';
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
   * Active (issued, not retired by the peer), by sequence number. Their reset tokens are not
   * kept: the endpoint's keyed hash gives them again when a frame or the transport parameters
   * need one (a 16-byte array each is ~200 bytes of heap per CID of an idle connection).
   */
  private readonly active = new Map<number, LocalCid>();
  private nextSeq = 0;
  /** Sequence numbers whose NEW_CONNECTION_ID must be (re)sent. */
  private readonly pending = new Set<number>();
  /** The peer's active_connection_id_limit (RFC 9000 §18.2; 2 until its parameters arrive). */
  private peerLimit = 2;
  /** Routing changes for the endpoint core: CIDs to add to / remove from its table. */
  private readonly added: Uint8Array[] = [];
  private readonly retired: Uint8Array[] = [];
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
    const c = this.active.get(0);
    return c && this.withToken(c);
  }

  /** Active CIDs (for tests and the endpoint's routing table). */
  activeCids(): IssuedCid[] {
    return [...this.active.values()].map((c) => this.withToken(c));
  }

  /** True when `cid` is one of ours and active. */
  isActive(cid: Uint8Array): boolean {
    for (const c of this.active.values()) if (bytesEqual(c.cid, cid)) return true;
    return false;
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

  /**
   * RETIRE_CONNECTION_ID from the peer (RFC 9000 §19.16). `packetDcid` is the DCID of the packet
   * that carried the frame: retiring it is a PROTOCOL_VIOLATION. `frameType` names the frame in
   * the error (PATH_RETIRE_CONNECTION_ID for a multipath path id).
   */
  onRetire(seq: number, packetDcid: Uint8Array, frameType = 0x19): void {
    if (seq >= this.nextSeq) {
      throw protocolViolation(`RETIRE_CONNECTION_ID for sequence ${seq} never issued`, frameType);
    }
    const c = this.active.get(seq);
    if (!c) return; // already retired: a duplicate frame
    if (bytesEqual(c.cid, packetDcid)) {
      throw protocolViolation('RETIRE_CONNECTION_ID retires the CID of its own packet', frameType);
    }
    this.active.delete(seq);
    this.pending.delete(seq);
    this.retired.push(c.cid);
    this.topUp();
  }

  /** True when a NEW_CONNECTION_ID is owed (`peekPending` would give one), without computing its token. */
  get hasPending(): boolean {
    for (const seq of this.pending) if (this.active.has(seq)) return true;
    return false;
  }

  /** Next NEW_CONNECTION_ID to send, or undefined. Call `onNewCidSent` once it is in a packet. */
  peekPending(): NewCidFrameInfo | undefined {
    for (const seq of this.pending) {
      const c = this.active.get(seq);
      if (c) return { seq: c.seq, cid: c.cid, resetToken: this.resetToken(c.cid), retirePriorTo: 0 };
      this.pending.delete(seq);
    }
    return undefined;
  }

  onNewCidSent(seq: number): void {
    this.pending.delete(seq);
  }

  /** A packet carrying NEW_CONNECTION_ID `seq` was lost: re-send if the CID is still active. */
  onNewCidLost(seq: number): void {
    if (this.active.has(seq)) this.pending.add(seq);
  }

  /** CIDs added since the last call (the endpoint routes them to this connection). */
  takeAdded(): Uint8Array[] {
    return this.added.splice(0);
  }

  /** CIDs retired since the last call (the endpoint stops routing them). */
  takeRetired(): Uint8Array[] {
    return this.retired.splice(0);
  }

  private topUp(): void {
    if (this.cidLength === 0) return;
    while (this.active.size < this.peerLimit && this.nextSeq < this.maxIssued) this.issue(true);
  }

  private issue(announce: boolean): IssuedCid {
    const cid = this.random.fill(new Uint8Array(this.cidLength));
    const c: LocalCid = { seq: this.nextSeq++, cid };
    this.active.set(c.seq, c);
    this.added.push(cid);
    if (announce) this.pending.add(c.seq);
    return this.withToken(c);
  }

  private withToken(c: LocalCid): IssuedCid {
    return { seq: c.seq, cid: c.cid, resetToken: this.resetToken(c.cid) };
  }
}

/** One of our CIDs as kept: its reset token is computed when needed (`withToken`). */
interface LocalCid {
  readonly seq: number;
  readonly cid: Uint8Array;
}

interface RemoteCid {
  readonly seq: number;
  readonly cid: Uint8Array;
  /**
   * Undefined for sequence 0 until known: a client learns it from the server's
   * stateless_reset_token transport parameter; a server never gets one for sequence 0.
   */
  resetToken: Uint8Array | undefined;
}

/** The CIDs the peer issued to us; we send with one of them (`current`). */
export class RemoteCids {
  /** Our active_connection_id_limit: most peer CIDs we keep active. */
  readonly limit: number;
  private readonly active = new Map<number, RemoteCid>();
  private currentSeq = 0;
  private retirePriorTo = 0;
  /** Sequence numbers we must retire (RETIRE_CONNECTION_ID pending or lost). */
  private readonly pendingRetire = new Set<number>();
  /**
   * Sequence numbers we have sent with (RFC 9000 §9.5: a CID used toward one peer address is not
   * used toward another; a path switch takes an unused one, `takeUnused`).
   */
  private readonly used = new Set<number>([0]);
  private readonly zeroLength: boolean;

  /** `initialCid`: the Source Connection ID of the peer's first long-header packet (seq 0). */
  constructor(initialCid: Uint8Array, limit: number) {
    if (limit < 2) throw new RangeError(`active_connection_id_limit must be >= 2, got ${limit}`);
    this.limit = limit;
    this.zeroLength = initialCid.length === 0;
    this.active.set(0, { seq: 0, cid: initialCid, resetToken: undefined });
  }

  /** The DCID to put in packets we send. */
  get current(): Uint8Array {
    return this.active.get(this.currentSeq)!.cid;
  }

  /** Sequence number of `current`. */
  get currentSequence(): number {
    return this.currentSeq;
  }

  /** The CID of sequence `seq` while it is active, else undefined. */
  cidOf(seq: number): Uint8Array | undefined {
    return this.active.get(seq)?.cid;
  }

  /**
   * The lowest active sequence never sent with, or undefined when the peer gave us no spare
   * (RFC 9000 §9.5: then a path switch keeps the current CID, which §9.5 allows when the peer's
   * address changed under it, as in NAT rebinding). A zero-length CID has no spare.
   */
  unusedSequence(): number | undefined {
    let best: number | undefined;
    for (const s of this.active.keys()) if (!this.used.has(s) && (best === undefined || s < best)) best = s;
    return best;
  }

  /** Sends with sequence `seq` from now on (it must be active). */
  use(seq: number): void {
    if (!this.active.has(seq)) throw new RangeError(`peer connection ID ${seq} is not active`);
    this.currentSeq = seq;
    this.used.add(seq);
  }

  /**
   * We stop using sequence `seq` (a path it served was abandoned, RFC 9000 §5.1.2): it leaves the
   * active set and a RETIRE_CONNECTION_ID is queued, which lets the peer issue a replacement. The
   * current CID is never retired this way; an inactive one is already retired.
   */
  retire(seq: number): void {
    if (seq === this.currentSeq || !this.active.has(seq)) return;
    this.active.delete(seq);
    this.pendingRetire.add(seq);
  }

  /**
   * The peer's handshake CID changed before it was confirmed (a client learns the server's
   * chosen CID from its first Initial, RFC 9000 §7.2).
   */
  replaceInitial(cid: Uint8Array): void {
    this.active.set(0, { seq: 0, cid, resetToken: undefined });
  }

  /** The server's stateless_reset_token transport parameter applies to sequence 0. */
  setInitialResetToken(token: Uint8Array): void {
    const c = this.active.get(0);
    if (c) c.resetToken = token;
  }

  /** NEW_CONNECTION_ID from the peer (RFC 9000 §19.15, §5.1.2). */
  onNewCid(seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    if (this.zeroLength) {
      throw protocolViolation('NEW_CONNECTION_ID from a peer that uses zero-length CIDs', 0x18);
    }
    const known = this.active.get(seq);
    if (known) {
      // A repeated frame is fine; the same sequence with other contents is not.
      if (!bytesEqual(known.cid, cid) || (known.resetToken && !bytesEqual(known.resetToken, resetToken))) {
        throw protocolViolation(`sequence ${seq} reused for another CID`, 0x18);
      }
      return;
    }
    for (const c of this.active.values()) {
      if (bytesEqual(c.cid, cid)) throw protocolViolation(`CID ${toHex(cid)} repeated with another sequence`, 0x18);
    }
    if (seq < this.retirePriorTo) {
      // Already covered by an earlier Retire Prior To: retire it straight away (§19.15).
      this.pendingRetire.add(seq);
    } else {
      this.active.set(seq, { seq, cid, resetToken });
    }
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo;
      for (const s of [...this.active.keys()]) {
        if (s < retirePriorTo) {
          this.active.delete(s);
          this.pendingRetire.add(s);
        }
      }
      if (!this.active.has(this.currentSeq)) {
        let next = Number.POSITIVE_INFINITY;
        for (const s of this.active.keys()) next = Math.min(next, s);
        if (next === Number.POSITIVE_INFINITY) {
          throw protocolViolation('Retire Prior To retires every connection ID', 0x18);
        }
        this.currentSeq = next;
        this.used.add(next);
      }
    }
    if (this.active.size > this.limit) {
      throw new TransportError(
        TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        `${this.active.size} active connection IDs exceed our limit of ${this.limit}`,
        0x18,
      );
    }
    // RFC 9000 §5.1.2: retirements not yet acknowledged are bounded (we allow 2x the limit).
    if (this.pendingRetire.size > 2 * this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, 'too many connection IDs to retire', 0x18);
    }
  }

  /** Next RETIRE_CONNECTION_ID sequence to send, or undefined. */
  peekRetire(): number | undefined {
    for (const s of this.pendingRetire) return s;
    return undefined;
  }

  onRetireSent(seq: number): void {
    this.pendingRetire.delete(seq);
  }

  onRetireLost(seq: number): void {
    this.pendingRetire.add(seq);
  }

  /** Number of active peer CIDs (tests, stats). */
  get activeCount(): number {
    return this.active.size;
  }

  /**
   * RFC 9000 §10.3.1: a datagram whose last 16 bytes equal the reset token of an active peer CID
   * is a Stateless Reset. Compared in constant time.
   */
  isStatelessReset(datagram: Uint8Array): boolean {
    if (datagram.length < 21) return false; // §10.3: shorter packets cannot be resets we honour
    const tail = datagram.subarray(datagram.length - RESET_TOKEN_LENGTH);
    let match = false;
    for (const c of this.active.values()) {
      if (c.resetToken && constantTimeEqual(c.resetToken, tail)) match = true;
    }
    return match;
  }
}
