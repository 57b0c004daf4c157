import { FIXED_BIT } from '../packet/header.js';
import { endpointSubkey } from './address-tokens.js';
import type { Random } from '../../tls/random.js';
import { HmacSha256 } from '../../tls/hmac-sha256.js';

/**
 * Stateless resets (RFC 9000 §10.3): the tokens an endpoint derives for its connection IDs and the
 * packet it sends for a short-header packet it cannot route (the rate limit on sending them is a
 * RateLimiter, rate-limit.ts).
 */

/** Stateless reset tokens are 16 bytes (RFC 9000 §10.3). */
export const STATELESS_RESET_TOKEN_LENGTH = 16;
/**
 * RFC 9000 §10.3: a Stateless Reset has at least 38 unpredictable bits after the two fixed ones
 * (5 bytes with the first) plus the 16-byte token: 21 bytes.
 */
export const MIN_STATELESS_RESET_LENGTH = 21;
/**
 * RFC 9000 §10.3: "An endpoint that sends a Stateless Reset in response to a packet that is 43
 * bytes or shorter SHOULD send a Stateless Reset that is one byte shorter"; above that we pick a
 * length between 42 (resets under 41 bytes may be recognisable, §10.3.3) and this cap, always
 * below the trigger's length (§10.3.3: smaller than the packet that triggered it, so two
 * endpoints cannot loop).
 */
export const MAX_STATELESS_RESET_LENGTH = 64;

/**
 * RFC 9000 §10.3.2: token = HMAC(static_key, connection_id) truncated to 16 bytes. The key is a
 * subkey of the endpoint's static secret, so a restarted endpoint with the same secret can reset
 * connections whose state it lost. All our CIDs have one length, as §10.3.2 requires.
 */
export class StatelessResetKey {
  /** HMAC-SHA-256 in JS with the pads precomputed: ~1 us per token (noble's hmac: ~11 us). */
  private readonly key: HmacSha256;

  constructor(staticKey: Uint8Array) {
    this.key = new HmacSha256(endpointSubkey(staticKey, 'stateless reset token'));
  }

  /** The stateless reset token of `cid`. */
  token(cid: Uint8Array): Uint8Array {
    return this.key.digest([cid]).slice(0, STATELESS_RESET_TOKEN_LENGTH);
  }
}

/**
 * The length of the Stateless Reset to send in answer to a datagram of `triggerLength` bytes, or
 * 0 when none may be sent: a reset must be strictly smaller than its trigger and at least 21
 * bytes, so a datagram of 21 bytes or fewer (which could itself be a reset) gets none.
 */
export function statelessResetLength(triggerLength: number, random: Random): number {
  if (triggerLength <= MIN_STATELESS_RESET_LENGTH) return 0;
  if (triggerLength <= 43) return triggerLength - 1;
  const max = Math.min(triggerLength - 1, MAX_STATELESS_RESET_LENGTH);
  const r = random.fill(new Uint8Array(1))[0]!;
  return 42 + (r % (max - 42 + 1));
}

/**
 * Writes a Stateless Reset of `length` bytes into `out` (RFC 9000 §10.3, Figure 10): a short
 * header's first two bits (0b01), unpredictable bits, then the token. Returns `length`.
 */
export function writeStatelessReset(out: Uint8Array, length: number, token: Uint8Array, random: Random): number {
  if (length < MIN_STATELESS_RESET_LENGTH || length > out.length) throw new RangeError(`stateless reset length ${length} out of range`);
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH) throw new RangeError('a stateless reset token is 16 bytes');
  const head = out.subarray(0, length - STATELESS_RESET_TOKEN_LENGTH);
  random.fill(head);
  // "Header Form (1) = 0, Fixed Bit (1) = 1", the remaining bits unpredictable.
  head[0] = (head[0]! & 0x3f) | FIXED_BIT;
  out.set(token, length - STATELESS_RESET_TOKEN_LENGTH);
  return length;
}
