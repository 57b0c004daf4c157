import { rootCertificates } from 'node:tls';
import { InvalidArgumentError } from './errors.js';
import { checkOptionKeys } from './arguments.js';
import { resolveHostPort } from './resolve.js';
import type { SessionState } from './session-state.js';
import type { DialOptions } from './session-host.js';
import type { DialTlsOptions } from './x509-options.js';

/**
 * QUIC Address Discovery against the home relay, as iroh does it (iroh-relay's QAD service,
 * iroh 1.0): the relay runs a QUIC server on its host, port 7842 by default, ALPN `/iroh-qad/0`,
 * with the relay's X.509 certificate; it opens no stream and only reports, in OBSERVED_ADDRESS
 * frames, the address and port our packets came from. We dial it from
 * the endpoint's own socket, so what it reports is the address a NAT between us and the relay
 * gave that socket: a NAT traversal candidate no interface of ours shows. The endpoint handles
 * the report as any peer's (`Endpoint.observedAddresses`, then every connection's candidates).
 *
 * As iroh's client, we keep the connection open (the relay reports again when the mapping
 * changes; the endpoint's keep-alive holds it) and dial again `QAD_REDIAL_MS` after it ends or
 * fails. The QAD connection is internal: not a `Session`, not counted in `sessionCount`.
 */

/** iroh's QAD ALPN (iroh-relay `ALPN_QUIC_ADDR_DISC`). */
export const QAD_ALPN = '/iroh-qad/0';
/** iroh's default QAD port (iroh-relay `DEFAULT_RELAY_QUIC_PORT`). */
export const DEFAULT_QAD_PORT = 7842;
/** How long one dial may take (iroh's `PROBES_TIMEOUT`). */
const QAD_DIAL_TIMEOUT_MS = 3_000;
/** @internal The wait before dialling again after a failure or a close (iroh re-probes every 20-26 s). */
export const QAD_REDIAL_MS = 25_000;

/** `EndpointOptions.relayAddressDiscovery` as an object. */
export interface RelayAddressDiscoveryOptions {
  /** The relay's QAD port (default 7842, iroh's). */
  readonly port?: number;
  /**
   * How the relay's certificate is checked (default: Node's bundled roots, and `relayCa` when
   * the endpoint has one), as a dial's `tls` option.
   */
  readonly tls?: DialTlsOptions;
}

/** What `Endpoint.relayAddressDiscovery` reports. */
export interface RelayAddressDiscoveryStatus {
  /** The home relay's URL. */
  readonly relay: string;
  /** The QAD server dialled, `host:port`. */
  readonly server: string;
  /** The QAD connection: dialling, connected (reports come), failed (dialled again later), or closed (the endpoint closed). */
  readonly connection: 'connecting' | 'connected' | 'failed' | 'closed';
  /** The address the relay last reported seeing us at, or null. */
  readonly observed: string | null;
  /** Why the last dial failed or the connection ended, when it did. */
  readonly error?: string;
}

/** @internal Checks `EndpointOptions.relayAddressDiscovery`. */
export function checkRelayAddressDiscovery(what: string, o: unknown): void {
  if (o === undefined || typeof o === 'boolean') return;
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`${what}: relayAddressDiscovery must be a boolean or an object { port, tls }`);
  checkOptionKeys(`${what} relayAddressDiscovery`, o, ['port', 'tls']);
  const { port, tls } = o as RelayAddressDiscoveryOptions;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InvalidArgumentError(`${what}: relayAddressDiscovery.port must be an integer in [1, 65535], got ${String(port)}`);
  }
  if (tls !== undefined && (typeof tls !== 'object' || tls === null)) throw new InvalidArgumentError(`${what}: relayAddressDiscovery.tls must be an object`);
}

/** @internal What the QAD client needs of its endpoint. */
export interface QadHost {
  /** Starts an X.509 dial (`Endpoint.dial`). */
  dial(remote: string, options: DialOptions): Promise<SessionState>;
  readonly isClosing: boolean;
}

/** @internal The QAD connection to the home relay: dialled, kept, dialled again. */
export class RelayQad {
  private readonly host: QadHost;
  private readonly relay: string;
  private readonly hostname: string;
  private readonly server: string;
  private readonly tls: DialTlsOptions;
  private state: SessionState | undefined;
  private current: RelayAddressDiscoveryStatus;
  private timer: NodeJS.Timeout | undefined;
  private readonly redialMs: number;

  /** `redialMs`: the wait before dialling again (tests shorten it). */
  constructor(host: QadHost, relayUrl: string, options: true | RelayAddressDiscoveryOptions, relayCa: string | undefined, redialMs = QAD_REDIAL_MS) {
    this.host = host;
    this.redialMs = redialMs;
    this.relay = relayUrl;
    const u = new URL(relayUrl);
    this.hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = (options === true ? undefined : options.port) ?? DEFAULT_QAD_PORT;
    this.server = this.hostname.includes(':') ? `[${this.hostname}]:${port}` : `${this.hostname}:${port}`;
    const tls = options === true ? undefined : options.tls;
    this.tls = tls ?? (relayCa !== undefined ? { ca: [...rootCertificates, relayCa] } : {});
    this.current = { relay: relayUrl, server: this.server, connection: 'connecting', observed: null };
  }

  get status(): RelayAddressDiscoveryStatus {
    return this.current;
  }

  /** Whether `s` is the QAD connection (its events are the endpoint's, not a session's). */
  owns(s: SessionState): boolean {
    return s === this.state;
  }

  /** The relay reported an address. */
  onObserved(address: string): void {
    this.current = { ...this.current, observed: address };
  }

  /** Dials now (again after a failure or close, `QAD_REDIAL_MS` later). */
  start(): void {
    if (this.host.isClosing) return;
    this.current = { ...withoutError(this.current), connection: 'connecting' };
    void this.connect();
  }

  /** The endpoint closes (it closes the connection with every other). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.current = { ...this.current, connection: 'closed' };
  }

  private async connect(): Promise<void> {
    let state: SessionState;
    try {
      const { address } = await resolveHostPort(this.server);
      state = await this.host.dial(address, { alpn: QAD_ALPN, timeoutMs: QAD_DIAL_TIMEOUT_MS, x509: { serverName: this.hostname, tls: this.tls } });
      this.state = state;
      await state.ready;
    } catch (e) {
      this.state = undefined;
      this.failed((e as Error).message);
      return;
    }
    if (this.host.isClosing) return;
    this.current = { ...withoutError(this.current), connection: 'connected' };
    const info = await state.closed;
    this.state = undefined;
    if (!this.host.isClosing) this.failed(`closed: ${info.reason || `code ${String(info.closeCode)}`}`);
  }

  private failed(error: string): void {
    if (this.host.isClosing) return;
    this.current = { ...this.current, connection: 'failed', error };
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, this.redialMs);
    this.timer.unref();
  }
}

function withoutError(s: RelayAddressDiscoveryStatus): RelayAddressDiscoveryStatus {
  return { relay: s.relay, server: s.server, connection: s.connection, observed: s.observed };
}
