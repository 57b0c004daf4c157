import { fromHex, toHex } from '../codec/bytes.js';
import { probeRelay, RelayClient, RelayError } from '../relay/client.js';

/**
 * Relays as paths of the endpoint (iroh's relay protocol, see RelayClient): the endpoint sends and
 * receives QUIC datagrams through a relay exactly as through UDP. To the QUIC core an address is
 * an opaque string; a relay path is written
 *
 *     relay:<peer id, 64 hex>@<relay URL>
 *
 * (no socket address starts with "relay:"): datagrams to it go to that relay with the peer as
 * destination, and a datagram the relay forwards from peer X arrives from `relay:<X>@<url>`. The
 * path is symmetric: a peer that reached us through relay R is answered through R, whether R is
 * our home relay or theirs.
 *
 * This module owns one RelayClient per relay URL: the home relay's, started when the endpoint
 * binds (our ticket names it, so incoming sessions arrive through it), and one per other relay a
 * dial goes through, started on first use. Each reconnects with backoff on its own while the
 * endpoint lives; QUIC's loss recovery carries sessions over a relay's restart.
 */

export const RELAY_ADDRESS_PREFIX = 'relay:';

/** Whether `address` names a relay path (else it is a socket address). */
export function isRelayAddress(address: string): boolean {
  return address.startsWith(RELAY_ADDRESS_PREFIX);
}

/** The address of the path to `peer` through the relay at `url` (normalized, see `normalizeRelayUrl`). */
export function relayAddress(url: string, peer: Uint8Array): string {
  return `${RELAY_ADDRESS_PREFIX}${toHex(peer)}@${url}`;
}

/** The relay URL and peer id of a relay path address. */
export function parseRelayAddress(address: string): { url: string; peer: Uint8Array } {
  const at = address.indexOf('@', RELAY_ADDRESS_PREFIX.length);
  if (!isRelayAddress(address) || at !== RELAY_ADDRESS_PREFIX.length + 64) throw new RangeError(`not a relay path address: ${address}`);
  return { url: address.slice(at + 1), peer: fromHex(address.slice(RELAY_ADDRESS_PREFIX.length, at)) };
}

/**
 * A relay URL as iroh writes it (a WHATWG URL serialisation: `http://127.0.0.1:3340/`), so that
 * one relay has one spelling in addresses, tickets and the client map. `ws`/`wss` are accepted as
 * `http`/`https`. Throws RangeError for anything else.
 */
export function normalizeRelayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`"${url}" is not a URL`);
  }
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RangeError(`relay URL ${url}: the scheme must be http, https, ws or wss`);
  return u.href;
}

export interface RelayPathsOptions {
  /** Our endpoint's secret key: the relays authenticate us by it. */
  readonly secretKey: Uint8Array;
  /** A datagram arrived on a relay path. */
  onDatagram(address: string, datagram: Uint8Array): void;
  /** The relay says the peer of that path is not connected to it (EndpointGone). */
  onPeerGone(address: string): void;
  /** Extra trust anchors for https relays (PEM). */
  readonly ca?: string | Buffer;
}

/** Relay paths whose route `RelayPaths.send` keeps (as the driver's socket address cache). */
const MAX_ROUTES = 4096;

export class RelayPaths {
  private readonly clients = new Map<string, RelayClient>();
  private readonly o: RelayPathsOptions;
  private homeUrl: string | undefined;
  private closed = false;
  /**
   * Each relay path's client and peer id, so that sending a datagram does not parse its address
   * (hex to bytes) every time; cleared when it grows past `MAX_ROUTES` (addresses come from our
   * dials and from the peers our relays forward).
   */
  private readonly routes = new Map<string, { client: RelayClient; peer: Uint8Array }>();

  constructor(options: RelayPathsOptions) {
    this.o = options;
  }

  /** Our home relay's URL: the one our tickets carry and incoming sessions arrive through. */
  get home(): string | undefined {
    return this.homeUrl;
  }

  /**
   * Chooses the home relay among `urls` as iroh does: each is probed (`GET /ping`) at once and the
   * first to answer wins; when none answers within `probeTimeoutMs`, the first URL is kept (its
   * client keeps trying). Starts its client.
   */
  async chooseHome(urls: readonly string[], probeTimeoutMs: number): Promise<string> {
    if (urls.length === 0) throw new RangeError('no relay URL');
    let home = urls[0]!;
    if (urls.length > 1) {
      const answered = await firstToAnswer(urls, probeTimeoutMs, this.o.ca);
      if (answered !== undefined) home = answered;
    }
    this.homeUrl = home;
    this.client(home);
    return home;
  }

  /** The client of the relay at `url` (normalized), started on first use. */
  client(url: string): RelayClient {
    let c = this.clients.get(url);
    if (!c) {
      if (this.closed) throw new RelayError(url, 'closed', `relay ${url}: the endpoint is closed`);
      c = new RelayClient({
        url,
        secretKey: this.o.secretKey,
        ...(this.o.ca !== undefined ? { ca: this.o.ca } : {}),
        onDatagram: (src, datagram) => this.o.onDatagram(relayAddress(url, src), datagram),
        onEndpointGone: (id) => this.o.onPeerGone(relayAddress(url, id)),
      });
      this.clients.set(url, c);
      c.start();
    }
    return c;
  }

  /**
   * Sends `datagram` (copied now) on the relay path `address`; false when the relay dropped it
   * (not connected, queue full: QUIC's loss recovery resends).
   */
  send(address: string, datagram: Uint8Array): boolean {
    if (this.closed) return false;
    let route = this.routes.get(address);
    if (!route) {
      const { url, peer } = parseRelayAddress(address);
      if (this.routes.size >= MAX_ROUTES) this.routes.clear();
      route = { client: this.client(url), peer };
      this.routes.set(address, route);
    }
    return route.client.send(route.peer, datagram);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

/** The first of `urls` whose `/ping` answers within `timeoutMs`, or undefined. */
async function firstToAnswer(urls: readonly string[], timeoutMs: number, ca: string | Buffer | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    let pending = urls.length;
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    for (const url of urls) {
      probeRelay(url, { timeoutMs, ...(ca !== undefined ? { ca } : {}) }).then(
        () => {
          clearTimeout(timer);
          resolve(url);
        },
        () => {
          if (--pending === 0) {
            clearTimeout(timer);
            resolve(undefined);
          }
        },
      );
    }
  });
}
