import { closeSync, openSync, writeSync } from 'node:fs';
import type { KeyLogger } from '../tls/engine.js';
import { toHex } from '../codec/bytes.js';

/**
 * TLS key logging in the NSS key log format (the `SSLKEYLOGFILE` format), so that Wireshark can
 * decrypt a capture of our QUIC connections.
 *
 * Each line is `<LABEL> <client random, 64 hex digits> <secret, hex>\n`; lines starting with '#'
 * are comments. For a TLS 1.3 handshake the TLS engines report four secrets:
 *
 *   CLIENT_HANDSHAKE_TRAFFIC_SECRET  SERVER_HANDSHAKE_TRAFFIC_SECRET   (Handshake packets)
 *   CLIENT_TRAFFIC_SECRET_0          SERVER_TRAFFIC_SECRET_0           (1-RTT packets)
 *
 * Wireshark needs nothing else for QUIC: the Initial keys come from the Destination Connection
 * ID (RFC 9001 §5.2), and QUIC key updates (RFC 9001 §6) are not logged at all: the NSS format
 * has no label for later generations, and Wireshark derives them itself from the `_0` secrets with
 * the "quic ku" label. A handshake that offers 0-RTT (RFC 9001 §4.6) logs
 * CLIENT_EARLY_TRAFFIC_SECRET first (the client always, the server when it accepts the early
 * data): the key of the 0-RTT packets.
 *
 * The secrets in this file decrypt everything on the connection: the file is created with mode
 * 0600, and key logging is meant for debugging only (the CLI's `--keylog`).
 */

/** The label of the 0-RTT secret, logged before the others when a handshake offers early data. */
export const EARLY_KEY_LOG_LABEL = 'CLIENT_EARLY_TRAFFIC_SECRET';

/** The labels our TLS engines log for every handshake, in the order they are derived. */
export const KEY_LOG_LABELS = [
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'SERVER_TRAFFIC_SECRET_0',
] as const;
export type KeyLogLabel = (typeof KEY_LOG_LABELS)[number];

/** The length of a TLS ClientHello random (RFC 9846 §4.1.2). */
const CLIENT_RANDOM_LENGTH = 32;

/**
 * One NSS key log line, newline included. Throws `RangeError` for a label that is not an
 * upper-case identifier, a client random that is not 32 bytes or an empty secret (a bug in the
 * caller, never peer input).
 */
export function formatKeyLogLine(label: string, clientRandom: Uint8Array, secret: Uint8Array): string {
  if (!/^[A-Z][A-Z0-9_]*$/.test(label)) throw new RangeError(`key log label ${JSON.stringify(label)} is not an NSS label`);
  if (clientRandom.length !== CLIENT_RANDOM_LENGTH) {
    throw new RangeError(`client random must be ${CLIENT_RANDOM_LENGTH} bytes, got ${clientRandom.length}`);
  }
  if (secret.length === 0) throw new RangeError('empty secret');
  return `${label} ${toHex(clientRandom)} ${toHex(secret)}\n`;
}

/** A `KeyLogger` that hands each formatted line to `write`. */
export function keyLogger(write: (line: string) => void): KeyLogger {
  return (label, clientRandom, secret) => write(formatKeyLogLine(label, clientRandom, secret));
}

/**
 * A key log file: lines are appended synchronously (so they are on disk before the packets they
 * decrypt are sent), to a file created with mode 0600 if it does not exist (an existing file
 * keeps its mode, as with `SSLKEYLOGFILE` in other programs; several connections and processes
 * may share it, each line being one `write`).
 *
 * `logger` never throws into the TLS engine: a failed write is kept in `error` and turns logging
 * off, the handshake goes on.
 */
export class KeyLogFile {
  readonly path: string;
  /** The first write error, if any (logging stopped there). */
  error: Error | undefined;
  private fd: number | undefined;

  /** Opens (creates with mode 0600, or appends to) `path`. Throws the fs error if it cannot. */
  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'a', 0o600);
  }

  /** The callback for `TlsConfig.keyLog`. */
  readonly logger: KeyLogger = (label, clientRandom, secret) => {
    this.log(label, clientRandom, secret);
  };

  /** Appends one line. Never throws: see `error`. */
  log(label: string, clientRandom: Uint8Array, secret: Uint8Array): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, formatKeyLogLine(label, clientRandom, secret));
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
      this.close();
    }
  }

  /** True until `close()` (or a write error). */
  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** Closes the file; later lines are dropped. Idempotent. */
  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Nothing useful to do: the lines written so far are on disk.
      }
    }
  }

  /**
   * The key log file named by an environment variable (`SSLKEYLOGFILE` by default), or undefined
   * when it is unset or empty.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, name = 'SSLKEYLOGFILE'): KeyLogFile | undefined {
    const path = env[name];
    return path ? new KeyLogFile(path) : undefined;
  }
}
