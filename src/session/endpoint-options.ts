import { ConfigError, resolveTransportConfig, type TransportOptions } from '../quic/transport-config.js';
import type { CryptoRandom } from '../tls/random.js';
import type { KeyLogger } from '../tls/engine.js';
import { TicketKeys, type ServerTickets } from '../tls/resumption.js';
import { StrikeRegister } from '../tls/anti-replay.js';
import { parseSocketAddr } from './addressing.js';
import type { EndpointTlsOptions } from './x509-options.js';
import { InvalidArgumentError } from './errors.js';
import { checkOptionKeys, checkStrings, checkType } from './arguments.js';
import type { SessionCache } from './session-cache.js';
import { checkRelayAddressDiscovery, type RelayAddressDiscoveryOptions } from './relay-qad.js';

// Endpoint.bind's options: their types, documentation and checks (the Endpoint itself is endpoint.ts).

/** iroh-http's session ALPN: the default, so a quic-peer session speaks to an iroh-http session. */
export const DEFAULT_ALPN = 'iroh-http/2-duplex';

export interface EndpointOptions {
  /** Our Ed25519 secret key (32-byte seed, or 64 hex chars). Default: a fresh random key. */
  readonly secretKey?: Uint8Array | string;
  /** ALPNs served to incoming sessions (default [`iroh-http/2-duplex`]). */
  readonly alpns?: readonly string[];
  /**
   * Socket addresses to bind (ip:port, port 0 = any). Default: every interface,
   * `['0.0.0.0:0', '[::]:0']`, as iroh and quinn (the IPv6 one is skipped when the host has no
   * IPv6). Bind `'127.0.0.1:0'` to stay on this host.
   */
  readonly bind?: string | readonly string[];
  /** Transport options of every connection (windows, idle timeout, congestion control...). */
  readonly transport?: TransportOptions;
  /** Accept incoming sessions (default true). */
  readonly acceptIncoming?: boolean;
  /** Most sessions at once (default 4096). */
  readonly maxSessions?: number;
  /** Most incoming handshakes in flight at once (default 256). */
  readonly maxHandshakes?: number;
  /** Address validation with Retry (default 'underLoad'). */
  readonly retry?: 'never' | 'always' | 'underLoad';
  /**
   * How long a dial waits for its handshake, in ms, unless `connect`'s `timeoutMs` says otherwise
   * (default: `transport.handshakeTimeoutMs`, else 10 s). It becomes the dialled connection's
   * handshake timeout.
   */
  readonly dialTimeoutMs?: number;
  /** NSS key log (a file path, or a callback) for Wireshark: never in production. */
  readonly keylog?: string | KeyLogger;
  /**
   * Write a qlog trace of every connection into this directory (created if missing): one
   * JSON-SEQ file per connection, `<odcid hex>-<client|server>.sqlog`. For debugging.
   */
  readonly qlogDir?: string;
  /**
   * Relay URLs (iroh's relay protocol; `http://` or `https://`, e.g. a `quic-peer relay`, or
   * iroh's production relays). Each is probed (`GET /ping`) when binding and the first to answer
   * becomes the home relay: we stay connected to it, our endpoint tickets carry it, and peers reach us
   * through it with no direct address. Default: none (no relay is contacted; tickets carry only
   * socket addresses). Dialling a ticket that names a relay works either way.
   */
  readonly relays?: readonly string[];
  /** Extra trust anchors (PEM) for `https://` relays with a private CA (tests, local networks). */
  readonly relayCa?: string;
  /**
   * QUIC Address Discovery against the home relay, as iroh does (iroh-relay's QAD service: QUIC on
   * the relay's host, port 7842, ALPN `/iroh-qad/0`, the relay's X.509 certificate): the address
   * the relay sees our socket at, a NAT's mapping, joins `observedAddresses` and so every
   * connection's NAT traversal candidates. `true`: port 7842, the certificate checked against
   * Node's roots (and `relayCa`); `{ port, tls }` to say otherwise (`tls` as `Session.connect`'s).
   * Default false (iroh's default is on: here, an endpoint opens no connection it was not asked
   * for). `Endpoint.relayAddressDiscovery` says how it goes; `QadServer` serves it.
   */
  readonly relayAddressDiscovery?: boolean | RelayAddressDiscoveryOptions;
  /**
   * How incoming sessions are authenticated: `{ mode: 'rawPublicKey' }` (iroh's, the default) or
   * `{ mode: 'x509', cert, key }` with a PEM chain and key (see the README, "X.509 mode"). An
   * X.509 endpoint's dials are X.509 dials too.
   */
  readonly tls?: EndpointTlsOptions;
  /**
   * Where dials keep the session tickets (and NEW_TOKEN tokens) servers send, to resume later
   * with one round trip less and no signatures (see the README, "Resumption"). Default: in
   * memory; a `FileSessionCache` keeps them across restarts; `false`: never resume, and ask
   * servers for no tickets (no psk_key_exchange_modes in the ClientHello).
   */
  readonly sessionCache?: SessionCache | false;
  /**
   * Session tickets we issue to our clients (RFC 9846 §4.6.1): `count` after each handshake
   * (default 2), valid `lifetimeS` seconds (default 86400, at most 604800), sealed under a key
   * that rotates every `rotationMs` (default 12 h; a ticket outlives at most two rotations).
   * `false`: none (every session a full handshake). Raw public key mode only.
   */
  readonly tickets?: TicketOptions | false;
}

/** See `EndpointOptions.tickets`. */
export interface TicketOptions {
  /** Tickets sent after each handshake (default 2). */
  readonly count?: number;
  /** How long a ticket may be used, in seconds (default 86400, at most 604800). */
  readonly lifetimeS?: number;
  /** How often the key that seals tickets rotates, in ms (default 12 h). */
  readonly rotationMs?: number;
  /**
   * Tickets allow 0-RTT early data (default true): a client resuming with one may send streams
   * and datagrams in its first flight, accepted at most once per ticket (a strike register of
   * `replayCapacity` tickets; see the README, "Resumption", for the replay caveat). false: every
   * early data is refused, resumption still works.
   */
  readonly earlyData?: boolean;
  /** Tickets remembered against replay of their early data (default 100,000; full: early data refused). */
  readonly replayCapacity?: number;
}

const ENDPOINT_OPTIONS = ['secretKey', 'alpns', 'bind', 'transport', 'acceptIncoming', 'maxSessions', 'maxHandshakes', 'retry', 'dialTimeoutMs', 'keylog', 'qlogDir', 'relays', 'relayCa', 'relayAddressDiscovery', 'tls', 'sessionCache', 'tickets'];

/** The server's ticket settings from `EndpointOptions.tickets` (checked by checkEndpointOptions). */
export function serverTickets(o: TicketOptions | false | undefined, random: CryptoRandom): { tickets?: ServerTickets } {
  if (o === false) return {};
  const t = o ?? {};
  return {
    tickets: {
      keys: new TicketKeys(random, Date.now(), t.rotationMs ?? 12 * 3600 * 1000),
      count: t.count ?? 2,
      lifetimeS: t.lifetimeS ?? 86400,
      now: Date.now,
      ...(t.earlyData === false ? {} : { maxEarlyData: 0xffffffff, replay: new StrikeRegister(t.replayCapacity ?? 100_000) }),
    },
  };
}

function checkTicketOptions(what: string, o: unknown): void {
  if (o === undefined || o === false) return;
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`${what}: tickets must be an object or false`);
  checkOptionKeys(`${what} tickets`, o, ['count', 'lifetimeS', 'rotationMs', 'earlyData', 'replayCapacity']);
  const t = o as TicketOptions;
  if (t.earlyData !== undefined && typeof t.earlyData !== 'boolean') throw new InvalidArgumentError(`${what}: tickets.earlyData must be a boolean`);
  const int = (name: keyof TicketOptions, min: number, max: number): void => {
    const v = t[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)) {
      throw new InvalidArgumentError(`${what}: tickets.${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('count', 0, 8);
  int('lifetimeS', 1, 604800);
  int('rotationMs', 1000, 2 ** 40);
  int('replayCapacity', 1, 10_000_000);
}

function checkSessionCache(what: string, c: unknown): void {
  if (c === undefined || c === false) return;
  const o = c as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || ['takeTicket', 'putTicket', 'token', 'putToken'].some((m) => typeof o[m] !== 'function')) {
    throw new InvalidArgumentError(`${what}: sessionCache must be a SessionCache (takeTicket, putTicket, token, putToken) or false`);
  }
}

/**
 * The options' names and types, the bind addresses' syntax and the transport options (through the
 * core's own validation), all before a socket is bound or a file opened: a bad option fails the
 * bind with an InvalidArgumentError naming it and leaves nothing open.
 */
export function checkEndpointOptions(o: EndpointOptions): void {
  const what = 'Endpoint.bind';
  checkOptionKeys(`${what} options`, o, ENDPOINT_OPTIONS);
  if (o.secretKey !== undefined && typeof o.secretKey !== 'string' && !(o.secretKey instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what}: secretKey must be a Uint8Array or a hex string`);
  }
  if (typeof o.bind !== 'string') checkStrings(what, 'bind', o.bind);
  for (const a of typeof o.bind === 'string' ? [o.bind] : (o.bind ?? [])) {
    try {
      parseSocketAddr(a);
    } catch (e) {
      throw new InvalidArgumentError(`bind address ${a}: ${(e as Error).message}`);
    }
  }
  checkType(what, 'acceptIncoming', o.acceptIncoming, 'boolean');
  for (const field of ['maxSessions', 'maxHandshakes'] as const) {
    const v = o[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 2 ** 30)) {
      throw new InvalidArgumentError(`${what}: ${field} must be an integer in [1, 2^30], got ${String(v)}`);
    }
  }
  if (o.retry !== undefined && !['never', 'always', 'underLoad'].includes(o.retry)) {
    throw new InvalidArgumentError(`${what}: retry must be 'never', 'always' or 'underLoad', got ${String(o.retry)}`);
  }
  if (o.keylog !== undefined && typeof o.keylog !== 'string' && typeof o.keylog !== 'function') {
    throw new InvalidArgumentError(`${what}: keylog must be a file path or a function`);
  }
  checkType(what, 'qlogDir', o.qlogDir, 'string');
  checkStrings(what, 'relays', o.relays);
  checkType(what, 'relayCa', o.relayCa, 'string');
  checkRelayAddressDiscovery(what, o.relayAddressDiscovery);
  checkTicketOptions(what, o.tickets);
  checkSessionCache(what, o.sessionCache);
  if (o.transport === null) throw new InvalidArgumentError(`${what}: transport must be an object, got null`);
  checkType(what, 'transport', o.transport, 'object');
  try {
    resolveTransportConfig(o.transport);
  } catch (e) {
    if (e instanceof ConfigError) throw new InvalidArgumentError(`${what}: transport.${e.message}`);
    throw e;
  }
}
