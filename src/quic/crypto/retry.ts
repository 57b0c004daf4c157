import { createCipheriv } from 'node:crypto';
import { constantTimeEqual, fromHex } from '../../codec/bytes.js';
import { QUIC_VERSION_1 } from '../packet/version.js';

/**
 * Retry Packet Integrity (RFC 9001 §5.8).
 *
 * The Retry Integrity Tag is the AES-128-GCM tag over an empty plaintext, with fixed key and nonce
 * and as AAD the Retry Pseudo-Packet:
 *
 *   ODCID Length (8) ‖ Original Destination Connection ID (0..160) ‖ the Retry packet without its tag
 *
 * It proves the Retry came from an endpoint that saw the client's Initial; it is not a secret.
 * Retry is rare (a server under load), so this path allocates freely.
 */

/** RFC 9001 §5.8: secret key for QUIC version 1. */
export const RETRY_INTEGRITY_KEY_V1: Uint8Array = fromHex('be0c690b9f66575a1d766b54e368c84e');
/** RFC 9001 §5.8: nonce for QUIC version 1. */
export const RETRY_INTEGRITY_NONCE_V1: Uint8Array = fromHex('461599d35d632bf2239825bb');
export const RETRY_INTEGRITY_TAG_LENGTH = 16;

/**
 * The integrity tag of a Retry packet, given the Original Destination Connection ID (the DCID of
 * the client's Initial that the Retry answers) and the Retry packet without its tag.
 */
export function retryIntegrityTag(odcid: Uint8Array, retryWithoutTag: Uint8Array, version: number = QUIC_VERSION_1): Uint8Array {
  if (version !== QUIC_VERSION_1) throw new RangeError(`no Retry integrity key for QUIC version 0x${version.toString(16)}`);
  if (odcid.length > 255) throw new RangeError('original destination connection id too long');
  const pseudo = new Uint8Array(1 + odcid.length + retryWithoutTag.length);
  pseudo[0] = odcid.length;
  pseudo.set(odcid, 1);
  pseudo.set(retryWithoutTag, 1 + odcid.length);
  const c = createCipheriv('aes-128-gcm', RETRY_INTEGRITY_KEY_V1, RETRY_INTEGRITY_NONCE_V1);
  c.setAAD(pseudo);
  c.final();
  return new Uint8Array(c.getAuthTag());
}

/**
 * True when the last 16 bytes of `retryPacket` (a whole Retry packet) are its valid integrity tag
 * for `odcid`. Compared in constant time. False (never a throw) for a packet too short to hold a tag.
 */
export function verifyRetryIntegrity(odcid: Uint8Array, retryPacket: Uint8Array, version: number = QUIC_VERSION_1): boolean {
  if (retryPacket.length < RETRY_INTEGRITY_TAG_LENGTH || version !== QUIC_VERSION_1 || odcid.length > 255) return false;
  const split = retryPacket.length - RETRY_INTEGRITY_TAG_LENGTH;
  const expected = retryIntegrityTag(odcid, retryPacket.subarray(0, split), version);
  return constantTimeEqual(expected, retryPacket.subarray(split));
}
