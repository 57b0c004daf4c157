import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, constantTimeEqual, utf8 } from '../../codec/bytes.js';
import { DecodeError } from '../../codec/errors.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import type { Random } from '../../tls/random.js';
import { HmacSha256 } from '../../tls/hmac-sha256.js';

/**
 * Address-validation tokens (RFC 9000 §8.1.2-§8.1.4): what a server puts in a Retry packet or a
 * NEW_TOKEN frame and gets back in the Token field of a client's Initial. They are stateless:
 * everything the server must know travels in the token, authenticated with HMAC-SHA256 under a
 * key derived from the endpoint's static secret ("Only the server requires access to the
 * integrity protection key for tokens", §8.1.4).
 *
 * Layout (the first byte tells both kinds apart, §8.1.1 "Token Construction"):
 *
 *   Retry:     0x01 | issued (6 bytes, ms) | vec8 original DCID | vec8 Retry SCID | tag (16)
 *   NEW_TOKEN: 0x02 | issued (6 bytes, ms) | nonce (16 random bytes)            | tag (16)
 *
 * tag = HMAC-SHA256(token_key, everything before the tag || address)[0..16]. The client's address
 * is covered by the tag but NOT carried in the token: a token from another address simply fails
 * to verify, and a NEW_TOKEN token reveals nothing that links it to the connection that issued it
 * (§8.1.3). A Retry token binds the full address (ip:port, §8.1.4 "SHOULD include information that
 * allows the server to verify that the source IP address and port in client packets remain
 * constant"); a NEW_TOKEN token binds only the host part, since "the client port number is [rarely]
 * the same on two different connections" (§8.1.3).
 *
 * Never trusting peer bytes: lengths are checked by the Reader (DecodeError becomes `invalid`),
 * the tag is compared in constant time before any other field is believed, and expiry is checked
 * on the authenticated issue time only. `validate` never throws.
 *
 * Time is the driver's `now` (ms). A token from an earlier process whose clock started elsewhere
 * looks expired or from the future and is treated as invalid: harmless for NEW_TOKEN tokens (the
 * client is then simply not pre-validated, §8.1.3) and irrelevant for Retry tokens (used at once).
 *
 * Not done here: replay limiting of NEW_TOKEN tokens (§8.1.4 "SHOULD NOT be accepted multiple
 * times"); the lifetime bounds the damage.
 */

/** Kind byte of a Retry token. */
export const RETRY_TOKEN = 0x01;
/** Kind byte of a NEW_TOKEN token. */
export const NEW_TOKEN_TOKEN = 0x02;
/** Truncated HMAC-SHA256 tag length. */
export const TOKEN_TAG_LENGTH = 16;
const ISSUED_LENGTH = 6;
const NONCE_LENGTH = 16;
/** Default lifetimes: Retry tokens are returned within a round trip; NEW_TOKEN ones much later. */
export const DEFAULT_RETRY_TOKEN_LIFETIME_MS = 10_000;
export const DEFAULT_NEW_TOKEN_LIFETIME_MS = 24 * 3600 * 1000;

/** What a token in a client's Initial turned out to be. */
export type TokenCheck =
  /** A valid Retry token for this address and Initial: the connection continues the Retry. */
  | { readonly kind: 'retry'; readonly originalDcid: Uint8Array; readonly retryScid: Uint8Array }
  /** A valid NEW_TOKEN token for this host: the address counts as validated. */
  | { readonly kind: 'newToken' }
  /**
   * Anything else. `retry` is true when it claims to be a Retry token: RFC 9000 §8.1.2 then says
   * the server SHOULD close with INVALID_TOKEN (the client will not accept another Retry); for
   * anything else §8.1.3 says to proceed as if there were no token.
   */
  | { readonly kind: 'invalid'; readonly retry: boolean; readonly reason: string };

export interface AddressTokenOptions {
  readonly retryLifetimeMs?: number;
  readonly newTokenLifetimeMs?: number;
}

/** Issues and validates address-validation tokens under one endpoint's key. */
export class AddressTokens {
  readonly retryLifetimeMs: number;
  readonly newTokenLifetimeMs: number;
  private readonly key: HmacSha256;

  /** `staticKey`: the endpoint's 32-byte secret; the token key is derived from it (HKDF). */
  constructor(staticKey: Uint8Array, options: AddressTokenOptions = {}) {
    this.key = new HmacSha256(endpointSubkey(staticKey, 'address validation token'));
    this.retryLifetimeMs = options.retryLifetimeMs ?? DEFAULT_RETRY_TOKEN_LIFETIME_MS;
    this.newTokenLifetimeMs = options.newTokenLifetimeMs ?? DEFAULT_NEW_TOKEN_LIFETIME_MS;
  }

  /**
   * The token of a Retry sent at `now` to `address` in answer to an Initial whose DCID was
   * `originalDcid`, telling the client to use `retryScid` from now on (RFC 9000 §17.2.5).
   */
  issueRetry(now: number, address: string, originalDcid: Uint8Array, retryScid: Uint8Array): Uint8Array {
    const w = Writer.growable();
    w.u8(RETRY_TOKEN);
    w.uint(issuedField(now), ISSUED_LENGTH);
    w.vec8(originalDcid);
    w.vec8(retryScid);
    return this.seal(w, address);
  }

  /** A NEW_TOKEN token for the client at `address` (unique: 16 random bytes, §19.7). */
  issueNewToken(now: number, address: string, random: Random): Uint8Array {
    const w = Writer.growable();
    w.u8(NEW_TOKEN_TOKEN);
    w.uint(issuedField(now), ISSUED_LENGTH);
    w.bytesOf(random.fill(new Uint8Array(NONCE_LENGTH)));
    return this.seal(w, hostOf(address));
  }

  /**
   * Checks the Token field of an Initial received at `now` from `address` with Destination
   * Connection ID `dcid`. Never throws.
   */
  validate(token: Uint8Array, now: number, address: string, dcid: Uint8Array): TokenCheck {
    const kind = token[0];
    const retry = kind === RETRY_TOKEN;
    if (kind !== RETRY_TOKEN && kind !== NEW_TOKEN_TOKEN) return { kind: 'invalid', retry: false, reason: 'unknown token format' };
    if (token.length < 1 + ISSUED_LENGTH + TOKEN_TAG_LENGTH) return { kind: 'invalid', retry, reason: 'token too short' };
    const body = token.subarray(0, token.length - TOKEN_TAG_LENGTH);
    const tag = token.subarray(token.length - TOKEN_TAG_LENGTH);
    // Authenticate first: nothing in the token is believed before the tag verifies.
    const expected = this.tag(body, retry ? address : hostOf(address));
    if (!constantTimeEqual(expected, tag)) return { kind: 'invalid', retry, reason: 'token authentication failed' };
    let issued: number;
    let originalDcid: Uint8Array | undefined;
    let retryScid: Uint8Array | undefined;
    try {
      const r = new Reader(body);
      r.skip(1);
      issued = r.uint(ISSUED_LENGTH);
      if (retry) {
        originalDcid = r.vec8().slice();
        retryScid = r.vec8().slice();
      } else {
        r.skip(NONCE_LENGTH);
      }
      r.expectEnd();
    } catch (e) {
      // Unreachable for tokens we issued (the tag verified); kept so a key shared with another
      // implementation can never make us throw.
      if (e instanceof DecodeError) return { kind: 'invalid', retry, reason: `malformed token: ${e.message}` };
      throw e;
    }
    const age = issuedField(now) - issued;
    if (age < 0) return { kind: 'invalid', retry, reason: 'token issued in the future' };
    if (age > (retry ? this.retryLifetimeMs : this.newTokenLifetimeMs)) return { kind: 'invalid', retry, reason: 'token expired' };
    if (retry) {
      // RFC 9000 §17.2.5.2: after a Retry the client's Initials carry the Retry's SCID as DCID.
      if (!bytesEqual(dcid, retryScid!)) return { kind: 'invalid', retry, reason: 'Initial DCID is not the Retry SCID of the token' };
      return { kind: 'retry', originalDcid: originalDcid!, retryScid: retryScid! };
    }
    return { kind: 'newToken' };
  }

  private seal(w: Writer, address: string): Uint8Array {
    const body = w.bytes();
    const out = new Uint8Array(body.length + TOKEN_TAG_LENGTH);
    out.set(body);
    out.set(this.tag(body, address), body.length);
    return out;
  }

  private tag(body: Uint8Array, address: string): Uint8Array {
    return this.key.digest([body, utf8(address)]).subarray(0, TOKEN_TAG_LENGTH);
  }
}

/**
 * A 32-byte key for one purpose, derived from the endpoint's static secret with HKDF-SHA256, so
 * the stateless reset key and the token key are independent (RFC 9000 §10.3.2, §8.1.4).
 */
export function endpointSubkey(staticKey: Uint8Array, purpose: string): Uint8Array {
  if (staticKey.length < 32) throw new RangeError(`the endpoint static key must be at least 32 bytes, got ${staticKey.length}`);
  return hkdf(sha256, staticKey, utf8('quic-peer endpoint'), utf8(purpose), 32);
}

/** The host part of an "ip:port" address (everything before the last colon). */
export function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
}

function issuedField(now: number): number {
  // 6 bytes of milliseconds; a clock outside [0, 2^48) is clamped (the token then just expires).
  return Math.min(2 ** 48 - 1, Math.max(0, Math.floor(now)));
}
