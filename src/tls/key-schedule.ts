import { bytesEqual, constantTimeEqual } from '../codec/bytes.js';
import { hmacDigest } from './crypto.js';
import { deriveSecret, hashBytes, hashLength, hkdfExpandLabel, hkdfExtract, TranscriptHash } from './hkdf.js';
import { encodeMessageHash } from './messages.js';
import type { HashName } from './suites.js';

/**
 * The TLS 1.3 key schedule (RFC 9846 §7.1) for a full (EC)DHE handshake without PSK, and the
 * transcript hash (RFC 9846 §4.4.1) including the HelloRetryRequest rule.
 *
 *              0
 *              |
 *   PSK=0 -> HKDF-Extract = Early Secret
 *              |
 *        Derive-Secret(., "derived", "")
 *              v
 *   ECDHE -> HKDF-Extract = Handshake Secret --> "c hs traffic" / "s hs traffic" (CH..SH)
 *              |
 *        Derive-Secret(., "derived", "")
 *              v
 *      0 -> HKDF-Extract = Master Secret --> "c ap traffic" / "s ap traffic" (CH..server Finished)
 *
 * With a resumption PSK, the Early Secret extracts the PSK, and the binder key comes from it
 * (`binderKey`); the resumption master secret gives the PSK of each ticket (resumption.ts).
 * The exporter secret is not needed by QUIC and is not derived.
 */

/** A client/server pair of traffic secrets for one stage. */
export interface TrafficSecrets {
  readonly client: Uint8Array;
  readonly server: Uint8Array;
}

/** Early Secret: HKDF-Extract(salt = 0, IKM = PSK), Hash.length zero bytes without a PSK. */
export function earlySecret(hash: HashName, psk?: Uint8Array): Uint8Array {
  if (psk === undefined) return noPsk(hash).early.slice();
  return hkdfExtract(hash, new Uint8Array(0), psk);
}

/** binder_key = Derive-Secret(Early Secret, "res binder", "") (RFC 9846 §7.1, resumption PSKs). */
export function binderKey(hash: HashName, early: Uint8Array): Uint8Array {
  return deriveSecret(hash, early, 'res binder', emptyHash(hash));
}

/** A PSK binder (RFC 9846 §4.2.11.2): a Finished verify_data under binder_key over the truncated ClientHello. */
export function pskBinder(hash: HashName, early: Uint8Array, truncatedTranscriptHash: Uint8Array): Uint8Array {
  return finishedVerifyData(hash, binderKey(hash, early), truncatedTranscriptHash);
}

/**
 * client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello) (RFC 9846
 * §7.1): the 0-RTT key of QUIC (RFC 9001 §4.6), from the PSK's Early Secret.
 */
export function clientEarlyTrafficSecret(hash: HashName, early: Uint8Array, clientHelloHash: Uint8Array): Uint8Array {
  return deriveSecret(hash, early, 'c e traffic', clientHelloHash);
}

/** resumption_master_secret = Derive-Secret(Master, "res master", ClientHello..client Finished). */
export function resumptionMasterSecret(hash: HashName, master: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return deriveSecret(hash, master, 'res master', transcriptHash);
}

/** Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), ECDHE). */
export function handshakeSecret(hash: HashName, early: Uint8Array, sharedSecret: Uint8Array): Uint8Array {
  // Without a PSK the Early Secret and its "derived" salt are constants of the hash (cached).
  const c = noPsk(hash);
  return hkdfExtract(hash, bytesEqual(early, c.early) ? c.derived : derivedSalt(hash, early), sharedSecret);
}

/** Master Secret = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0). */
export function masterSecret(hash: HashName, handshake: Uint8Array): Uint8Array {
  return hkdfExtract(hash, derivedSalt(hash, handshake), new Uint8Array(hashLength(hash)));
}

/** "c hs traffic" / "s hs traffic" over Transcript-Hash(ClientHello..ServerHello). */
export function handshakeTrafficSecrets(hash: HashName, handshake: Uint8Array, transcriptHash: Uint8Array): TrafficSecrets {
  return {
    client: deriveSecret(hash, handshake, 'c hs traffic', transcriptHash),
    server: deriveSecret(hash, handshake, 's hs traffic', transcriptHash),
  };
}

/** "c ap traffic" / "s ap traffic" over Transcript-Hash(ClientHello..server Finished). */
export function applicationTrafficSecrets(hash: HashName, master: Uint8Array, transcriptHash: Uint8Array): TrafficSecrets {
  return {
    client: deriveSecret(hash, master, 'c ap traffic', transcriptHash),
    server: deriveSecret(hash, master, 's ap traffic', transcriptHash),
  };
}

/** finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 9846 §4.4.4). */
export function finishedKey(hash: HashName, baseKey: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, baseKey, 'finished', new Uint8Array(0), hashLength(hash));
}

/** verify_data = HMAC(finished_key, Transcript-Hash(Handshake Context, Certificate*, CertificateVerify*)). */
export function finishedVerifyData(hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return hmacDigest(hash, finishedKey(hash, baseKey), transcriptHash);
}

/** Constant-time check of a peer's verify_data. */
export function verifyFinished(hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array, verifyData: Uint8Array): boolean {
  return constantTimeEqual(finishedVerifyData(hash, baseKey, transcriptHash), verifyData);
}

/** No messages held (shared, never written: a transcript replaces it before adding). */
const NO_MESSAGES: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * The running transcript (RFC 9846 §4.4.1). Before the cipher suite is known (a client holds its
 * ClientHello until the ServerHello names the hash), messages are kept and hashed once the hash
 * is selected.
 */
export class Transcript {
  /** Messages held until the hash is selected; the shared empty list when none. */
  private pending: Uint8Array[] = NO_MESSAGES;
  private th: TranscriptHash | undefined;

  /** The hash function, once selected. */
  get hash(): HashName | undefined {
    return this.th?.hash;
  }

  /** Adds one whole handshake message (header included). */
  add(message: Uint8Array): void {
    if (this.th) this.th.update(message);
    else if (this.pending === NO_MESSAGES) this.pending = [message];
    else this.pending.push(message);
  }

  /** Fixes the hash function (from the negotiated suite) and hashes what was held. */
  selectHash(hash: HashName): void {
    if (this.th) {
      if (this.th.hash !== hash) throw new Error('transcript hash already selected');
      return;
    }
    this.th = new TranscriptHash(hash);
    for (const m of this.pending) this.th.update(m);
    this.pending = NO_MESSAGES;
  }

  /**
   * After a HelloRetryRequest: the transcript so far (ClientHello1 alone) is replaced by
   * message_hash(Hash(ClientHello1)) (RFC 9846 §4.4.1). Call after `selectHash`, before adding
   * the HelloRetryRequest itself.
   */
  replaceWithMessageHash(): void {
    const th = this.th;
    if (!th) throw new Error('transcript hash not selected');
    const h = th.digest();
    const next = new TranscriptHash(th.hash);
    next.update(encodeMessageHash(h));
    this.th = next;
  }

  /** Transcript-Hash of everything added so far followed by `more` (a truncated ClientHello), without adding it. */
  digestWith(hash: HashName, more: Uint8Array): Uint8Array {
    if (!this.th) {
      const t = new TranscriptHash(hash);
      for (const m of this.pending) t.update(m);
      return t.update(more).digest();
    }
    if (this.th.hash !== hash) throw new Error('transcript hash differs');
    return this.th.fork().update(more).digest();
  }

  /**
   * The handshake is over and no message will be added or hashed again: drops the running hash
   * and anything held, so a finished connection keeps no hash state (heap per idle connection).
   */
  release(): void {
    this.th = undefined;
    this.pending = NO_MESSAGES;
  }

  /** Transcript-Hash of everything added so far. */
  digest(): Uint8Array {
    if (!this.th) throw new Error('transcript hash not selected');
    return this.th.digest();
  }
}

/** Derive-Secret(secret, "derived", ""): the salt of the next HKDF-Extract. */
function derivedSalt(hash: HashName, secret: Uint8Array): Uint8Array {
  return deriveSecret(hash, secret, 'derived', emptyHash(hash));
}

/** Per hash, without a PSK: the Early Secret and its "derived" salt (constants). */
interface HashConstants {
  readonly early: Uint8Array;
  readonly derived: Uint8Array;
}
const CONSTANTS = new Map<HashName, HashConstants>();
/** Hash(""), the context of Derive-Secret(., "derived", "") and of the binder key (read only). */
const EMPTY_HASHES = new Map<HashName, Uint8Array>();

function emptyHash(hash: HashName): Uint8Array {
  let h = EMPTY_HASHES.get(hash);
  if (h === undefined) EMPTY_HASHES.set(hash, (h = hashBytes(hash, new Uint8Array(0))));
  return h;
}

/**
 * A full handshake's Early Secret = HKDF-Extract(0, 0) and Derive-Secret(it, "derived", "") are
 * the same for every handshake of a hash: computed once (two HMACs and a hash fewer per handshake
 * and end, issue [perf2]). Read only: `earlySecret` hands out copies.
 */
function noPsk(hash: HashName): HashConstants {
  let c = CONSTANTS.get(hash);
  if (c === undefined) {
    const early = hkdfExtract(hash, new Uint8Array(0), new Uint8Array(hashLength(hash)));
    c = { early, derived: derivedSalt(hash, early) };
    CONSTANTS.set(hash, c);
  }
  return c;
}

