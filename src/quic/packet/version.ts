/**
 * QUIC versions (RFC 9000 §15, RFC 8999 §5.1).
 *
 * This peer speaks QUIC version 1 only. Version 0 is reserved for Version Negotiation; versions
 * of the form 0x?a?a?a?a are reserved to exercise version negotiation ("greasing").
 */

export const QUIC_VERSION_1 = 0x00000001;
/** The version field of a Version Negotiation packet (RFC 9000 §17.2.1). */
export const VERSION_NEGOTIATION = 0x00000000;

/** Versions we accept, in preference order (what a Version Negotiation packet lists). */
export const SUPPORTED_VERSIONS: readonly number[] = [QUIC_VERSION_1];

export function isSupportedVersion(version: number): boolean {
  return version === QUIC_VERSION_1;
}

/** RFC 9000 §15: versions matching 0x?a?a?a?a are reserved for greasing and never negotiated. */
export function isReservedVersion(version: number): boolean {
  return (version & 0x0f0f0f0f) === 0x0a0a0a0a;
}
