import { hkdfExpandLabel } from '../../tls/hkdf.js';
import type { CipherSuite } from '../../tls/suites.js';
import { AeadPacketKey, type PacketKey } from './aead.js';
import { headerProtectionKey, type HeaderProtectionKey } from './header-protection.js';

/**
 * Packet protection keys derived from TLS traffic secrets (RFC 9001 §5.1), and the 1-RTT key
 * update state (RFC 9001 §6).
 *
 * How a connection holds its keys:
 * - Initial, 0-RTT and Handshake: one `KeySet` per level (`read` and `write` `DirectionalKeys`;
 *   0-RTT has only one direction, the other may be absent), discarded as the handshake advances.
 * - 1-RTT: a `OneRttKeys`, which holds the current key phase, the keys of the next phase (derived
 *   ahead of time, RFC 9001 §6.3) and the previous read key, plus the header protection keys,
 *   which key updates do not change (RFC 9001 §6.1).
 * Real keys and null keys (null.ts) both fit these shapes.
 */

/** Packet and header protection for one direction at one encryption level. */
export interface DirectionalKeys {
  readonly packet: PacketKey;
  readonly header: HeaderProtectionKey;
}

/** Both directions of one encryption level. */
export interface KeySet {
  readonly read: DirectionalKeys;
  readonly write: DirectionalKeys;
}

/** The raw values derived from one traffic secret. */
export interface KeyMaterial {
  /** AEAD key: "quic key", suite.keyLen bytes. */
  readonly key: Uint8Array;
  /** AEAD IV: "quic iv", 12 bytes. */
  readonly iv: Uint8Array;
  /** Header protection key: "quic hp", suite.keyLen bytes. */
  readonly hp: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** RFC 9001 §5.1: key, IV and header protection key from a traffic secret. */
export function deriveKeyMaterial(suite: CipherSuite, secret: Uint8Array): KeyMaterial {
  return {
    key: hkdfExpandLabel(suite.hash, secret, 'quic key', EMPTY, suite.keyLen),
    iv: hkdfExpandLabel(suite.hash, secret, 'quic iv', EMPTY, suite.ivLen),
    hp: hkdfExpandLabel(suite.hash, secret, 'quic hp', EMPTY, suite.keyLen),
  };
}

/** The AEAD key ("quic key" + "quic iv") of a traffic secret. */
export function derivePacketKey(suite: CipherSuite, secret: Uint8Array): PacketKey {
  return new AeadPacketKey(
    suite,
    hkdfExpandLabel(suite.hash, secret, 'quic key', EMPTY, suite.keyLen),
    hkdfExpandLabel(suite.hash, secret, 'quic iv', EMPTY, suite.ivLen),
  );
}

/** The header protection key ("quic hp") of a traffic secret. */
export function deriveHeaderProtectionKey(suite: CipherSuite, secret: Uint8Array): HeaderProtectionKey {
  return headerProtectionKey(suite, hkdfExpandLabel(suite.hash, secret, 'quic hp', EMPTY, suite.keyLen));
}

/** Packet and header protection keys of a traffic secret (one direction). */
export function deriveDirectionalKeys(suite: CipherSuite, secret: Uint8Array): DirectionalKeys {
  const m = deriveKeyMaterial(suite, secret);
  return { packet: new AeadPacketKey(suite, m.key, m.iv), header: headerProtectionKey(suite, m.hp) };
}

/**
 * RFC 9001 §6.1: secret_<n+1> = HKDF-Expand-Label(secret_<n>, "quic ku", "", Hash.length).
 * The header protection key is not updated.
 */
export function nextTrafficSecret(suite: CipherSuite, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(suite.hash, secret, 'quic ku', EMPTY, suite.hashLen);
}

/** How 1-RTT keys are made from traffic secrets (real derivations, or null keys: null.ts). */
export interface KeyFactory {
  packetKey(suite: CipherSuite, secret: Uint8Array): PacketKey;
  headerKey(suite: CipherSuite, secret: Uint8Array): HeaderProtectionKey;
}

/** RFC 9001 §5.1 derivations. */
export const REAL_KEYS: KeyFactory = { packetKey: derivePacketKey, headerKey: deriveHeaderProtectionKey };

/** A key phase: the value of the Key Phase bit of short headers (RFC 9001 §6). */
export type KeyPhase = 0 | 1;

/**
 * 1-RTT keys with key update state (RFC 9001 §6). Pure state, no policy: when to initiate an
 * update, when to discard the previous read key (about three PTOs after the update, §6.5) and
 * whether a packet with the other phase bit belongs to the previous or the next phase (compare
 * its packet number with those of the current phase, §6.5) are the connection's decisions.
 */
export class OneRttKeys {
  readonly suite: CipherSuite;
  /** Header protection keys, fixed for the life of the connection (RFC 9001 §6.1). */
  readonly readHeader: HeaderProtectionKey;
  readonly writeHeader: HeaderProtectionKey;
  /** The current key phase: the Key Phase bit sent, and expected of the peer. */
  keyPhase: KeyPhase = 0;
  /** Keys of the current phase. */
  read: PacketKey;
  write: PacketKey;
  /** The next phase's read key, derived ahead of time so a peer's update costs no timing signal (§6.3, §9.5). */
  nextRead: PacketKey;
  /** Read key of the previous phase, kept for reordered packets until the connection drops it. */
  previousRead: PacketKey | null = null;
  /** Number of key updates so far (0 for the keys the handshake produced). */
  generation = 0;
  /**
   * The next phase's read secret then its write secret, in one array: what the update after next
   * derives from. The current secrets are not kept (the current keys are made; issue [perf2],
   * heap per idle connection).
   */
  private nextSecrets: Uint8Array;
  /**
   * The next phase's write key, made when first needed (an update): no received packet's timing
   * depends on it (§9.5 is about the read side), and most connections never update, so an idle
   * one keeps one key object less (issue [perf2], heap per idle connection).
   */
  private nextWriteKey: PacketKey | undefined;

  /** Turns traffic secrets into keys: the real derivations, or null keys for benchmarks. */
  private readonly factory: KeyFactory;

  constructor(suite: CipherSuite, readSecret: Uint8Array, writeSecret: Uint8Array, factory: KeyFactory = REAL_KEYS) {
    this.suite = suite;
    this.factory = factory;
    this.readHeader = factory.headerKey(suite, readSecret);
    this.writeHeader = factory.headerKey(suite, writeSecret);
    this.read = factory.packetKey(suite, readSecret);
    this.write = factory.packetKey(suite, writeSecret);
    this.nextSecrets = nextSecretPair(suite, readSecret, writeSecret);
    this.nextRead = factory.packetKey(suite, this.nextReadSecret);
  }

  /** The write key of the next phase (derived on first use). */
  get nextWrite(): PacketKey {
    return (this.nextWriteKey ??= this.factory.packetKey(this.suite, this.nextWriteSecret));
  }

  /** The next phase's read and write traffic secrets (tests; views: do not keep them). */
  get nextReadSecret(): Uint8Array {
    return this.nextSecrets.subarray(0, this.suite.hashLen);
  }

  get nextWriteSecret(): Uint8Array {
    return this.nextSecrets.subarray(this.suite.hashLen);
  }

  /** Read and write keys of the current phase as a `KeySet`-shaped pair with the fixed HP keys. */
  keySet(): KeySet {
    return {
      read: { packet: this.read, header: this.readHeader },
      write: { packet: this.write, header: this.writeHeader },
    };
  }

  /**
   * The key for a packet whose (unprotected) Key Phase bit is `bit`: the current read key when it
   * matches the current phase, else the next phase's. A packet of the other phase may instead be a
   * late packet of the previous phase (`previousRead`): that choice is the connection's.
   */
  readKeyForPhase(bit: KeyPhase): PacketKey {
    return bit === this.keyPhase ? this.read : this.nextRead;
  }

  /**
   * Moves to the next key phase (initiated locally, or in response to a peer's update once a packet
   * with the next phase opened): the current read key becomes `previousRead`, the next keys become
   * current, and the keys after them are derived. HP keys stay.
   */
  update(): void {
    this.previousRead = this.read;
    this.read = this.nextRead;
    this.write = this.nextWrite;
    this.nextSecrets = nextSecretPair(this.suite, this.nextReadSecret, this.nextWriteSecret);
    this.nextRead = this.factory.packetKey(this.suite, this.nextReadSecret);
    this.nextWriteKey = undefined;
    this.keyPhase = this.keyPhase === 0 ? 1 : 0;
    this.generation++;
  }

  /** Forgets the previous read key (RFC 9001 §6.5: some time after the update). */
  discardPrevious(): void {
    this.previousRead = null;
  }
}

/** The secrets after `read` and `write` (RFC 9001 §6.1), read then write, in one array. */
function nextSecretPair(suite: CipherSuite, read: Uint8Array, write: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 * suite.hashLen);
  out.set(nextTrafficSecret(suite, read));
  out.set(nextTrafficSecret(suite, write), suite.hashLen);
  return out;
}
