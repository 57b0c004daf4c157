import { transportErrorName } from '../quic/errors.js';
import { alertName } from '../tls/alerts.js';
import type { CloseReason } from '../quic/events.js';

/**
 * Typed errors of the session layer. Each says what was wrong in its message and carries a
 * machine-readable `kind`, so an application (or an FFI caller) can branch on it.
 */

/** A bad argument to the API (a close code above 2^62-1, a malformed remote, an unknown option...). */
export class InvalidArgumentError extends TypeError {
  /** Always `'InvalidArgumentError'`. */
  override readonly name = 'InvalidArgumentError';
}

/** Why a dial failed. */
export type ConnectErrorKind =
  /**
   * The handshake did not complete within the dial timeout: `no answer` (nothing came back:
   * nobody listens there, or every packet was lost) or `the handshake did not complete` (the peer
   * answered).
   */
  | 'timeout'
  /** The peer is not the endpoint id we dialled (its key differs), or it refused our key. */
  | 'authentication'
  /** No common ALPN (TLS no_application_protocol). */
  | 'alpn'
  /** The peer refused the connection (CONNECTION_REFUSED, version mismatch, stateless reset). */
  | 'refused'
  /** No usable direct address for the remote. */
  | 'no-address'
  /** The OS refused to send to the address (no route, network unreachable, not reachable from our socket). */
  | 'unreachable'
  /** The endpoint is closed or cannot open more connections. */
  | 'endpoint'
  /** Any other failure before the handshake completed. */
  | 'failed';

/** A dial (`Session.connect`) failed before the handshake completed; `kind` says why. */
export class ConnectError extends Error {
  /** Always `'ConnectError'`. */
  override readonly name = 'ConnectError';
  /** Why the dial failed. */
  readonly kind: ConnectErrorKind;
  /** The connection's close reason, when the failure came from the connection. */
  readonly reason: CloseReason | undefined;
  constructor(kind: ConnectErrorKind, message: string, reason?: CloseReason) {
    super(message);
    this.kind = kind;
    this.reason = reason;
  }
}

/** The session is closed: an operation that needs it open. */
export class SessionClosedError extends Error {
  /** Always `'SessionClosedError'`. */
  override readonly name = 'SessionClosedError';
  /** The application close code the session ended with. */
  readonly closeCode: number | bigint;
  /** The close reason, possibly empty. */
  readonly reason: string;
  constructor(closeCode: number | bigint, reason: string) {
    super(`session closed (code ${closeCode}${reason ? `: ${reason}` : ''})`);
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** A human description of a connection's close reason. */
export function describeClose(r: CloseReason): string {
  const who = r.remote ? 'by the peer' : 'locally';
  switch (r.kind) {
    case 'application':
      return `closed ${who} with code ${r.code}${r.reason ? `: ${r.reason}` : ''}`;
    case 'transport': {
      const code = typeof r.code === 'bigint' ? Number(r.code) : r.code;
      const alert = code >= 0x100 && code <= 0x1ff ? ` (TLS ${alertName(code - 0x100)})` : '';
      return `transport error ${transportErrorName(code)}${alert} ${who}${r.reason ? `: ${r.reason}` : ''}`;
    }
    case 'idle':
      return 'idle timeout: the peer stopped answering';
    case 'handshakeTimeout':
      return r.reason;
    case 'reset':
      return 'the peer reset the connection (stateless reset)';
    case 'versionMismatch':
      return r.reason;
  }
}

/**
 * Maps a connection that closed before its handshake completed to a ConnectError. `answered`:
 * a packet of the peer's was received (a timeout without one gets the explanation below).
 */
export function connectErrorFor(r: CloseReason, target: string, answered = true): ConnectError {
  const code = typeof r.code === 'bigint' ? Number(r.code) : r.code;
  if (r.kind === 'transport' && code >= 0x100 && code <= 0x1ff) {
    const alert = code - 0x100;
    if (alert === 120) return new ConnectError('alpn', `${target}: no common ALPN (TLS no_application_protocol)`, r);
    if ([42, 43, 44, 45, 46, 48, 49, 51, 116].includes(alert) || (alert === 40 && /certificate/i.test(r.reason))) {
      // A TlsAlert's message starts with its alert's name: say it once.
      const name = alertName(alert);
      const detail = r.reason.startsWith(`${name}: `) ? r.reason.slice(name.length + 2) : r.reason;
      return new ConnectError('authentication', `${target}: authentication failed (TLS ${name}${detail ? `: ${detail}` : ''})`, r);
    }
  }
  if (r.kind === 'handshakeTimeout') {
    // The endpoint's socket is unconnected (it serves every peer from one port), and Linux hands
    // an ICMP port unreachable only to connected sockets (or with IP_RECVERR, which node:dgram
    // does not expose): a dial to a closed port cannot fail fast, so say what may have happened.
    const why = answered ? '' : ': nothing is listening there, or every packet was lost (a closed UDP port is not reported to us)';
    return new ConnectError('timeout', `${target}: ${r.reason}${why}`, r);
  }
  if (r.kind === 'reset' || r.kind === 'versionMismatch' || (r.kind === 'transport' && code === 0x2)) {
    return new ConnectError('refused', `${target}: connection refused (${describeClose(r)})`, r);
  }
  return new ConnectError('failed', `${target}: ${describeClose(r)}`, r);
}
