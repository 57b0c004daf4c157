import { fromHex } from '../../codec/bytes.js';
import { hkdfExpandLabel, hkdfExtract } from '../../tls/hkdf.js';
import { TLS_AES_128_GCM_SHA256, cipherSuite, type CipherSuite } from '../../tls/suites.js';
import { QUIC_VERSION_1 } from '../packet/version.js';
import { deriveDirectionalKeys, type KeySet } from './keys.js';

/**
 * Initial packet protection (RFC 9001 §5.2): keys every endpoint can derive from the Destination
 * Connection ID of the client's first Initial packet. They protect against off-path tampering
 * only; their suite is always AES-128-GCM with SHA-256.
 */

/** RFC 9001 §5.2: initial_salt for QUIC version 1. */
export const INITIAL_SALT_V1: Uint8Array = fromHex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a');

/** The cipher suite of Initial packets (RFC 9001 §5.2). */
export const INITIAL_SUITE: CipherSuite = cipherSuite(TLS_AES_128_GCM_SHA256);

export interface InitialSecrets {
  readonly client: Uint8Array;
  readonly server: Uint8Array;
}

/**
 * initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id)
 * client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)
 * server_initial_secret = HKDF-Expand-Label(initial_secret, "server in", "", 32)
 *
 * `dcid` is the Destination Connection ID the client chose for its first Initial packet (after a
 * Retry, the one of the Initial that follows it, RFC 9001 §5.2). Throws RangeError for a version
 * other than 1.
 */
export function initialSecrets(dcid: Uint8Array, version: number = QUIC_VERSION_1): InitialSecrets {
  const salt = initialSalt(version);
  const h = INITIAL_SUITE.hash;
  const initialSecret = hkdfExtract(h, salt, dcid);
  const empty = new Uint8Array(0);
  return {
    client: hkdfExpandLabel(h, initialSecret, 'client in', empty, INITIAL_SUITE.hashLen),
    server: hkdfExpandLabel(h, initialSecret, 'server in', empty, INITIAL_SUITE.hashLen),
  };
}

/** The Initial key set of one endpoint: a client reads with the server's keys and writes with its own. */
export function initialKeys(dcid: Uint8Array, isClient: boolean, version: number = QUIC_VERSION_1): KeySet {
  const s = initialSecrets(dcid, version);
  const client = deriveDirectionalKeys(INITIAL_SUITE, s.client);
  const server = deriveDirectionalKeys(INITIAL_SUITE, s.server);
  return isClient ? { read: server, write: client } : { read: client, write: server };
}

function initialSalt(version: number): Uint8Array {
  if (version === QUIC_VERSION_1) return INITIAL_SALT_V1;
  throw new RangeError(`no initial salt for QUIC version 0x${version.toString(16)}`);
}
