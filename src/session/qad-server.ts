import { Endpoint } from './endpoint.js';
import { checkOptionKeys, checkType } from './arguments.js';
import { InvalidArgumentError } from './errors.js';
import { QAD_ALPN } from './relay-qad.js';
import { Session } from './session.js';

/** `QadServer.listen`'s options. */
export interface QadServerOptions {
  /** `ip:port` to listen on (UDP); default `127.0.0.1:0` (iroh's relays use port 7842). */
  readonly bind?: string;
  /** The certificate chain (PEM), leaf first: the relay's, for the name clients dial. */
  readonly cert: string | readonly string[];
  /** The private key (PEM) of `cert`'s leaf. */
  readonly key: string;
  /** Most clients at once (default 4096). */
  readonly maxSessions?: number;
}

/**
 * A QUIC Address Discovery server, as an iroh relay runs one next to its HTTPS service (iroh-relay
 * `QuicServer`, iroh 1.0): QUIC with an X.509 certificate (the relay's), ALPN `/iroh-qad/0`, no
 * streams; each client is told, in OBSERVED_ADDRESS frames, the address and port its packets come
 * from, and the connection stays open until the client closes it (or goes idle). An endpoint with
 * `relayAddressDiscovery` dials one on its home relay's host; iroh nodes dial their relays' on
 * port 7842. Start it beside a `RelayServer` with the certificate clients check for its host.
 */
export class QadServer {
  /** The address bound, `ip:port`. */
  readonly address: string;
  private readonly endpoint: Endpoint;
  private readonly held = new Set<Session>();
  private readonly accepting: Promise<void>;

  private constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
    this.address = endpoint.boundAddresses[0]!;
    this.accepting = this.acceptAll();
  }

  /** Binds and starts serving. Rejects with an InvalidArgumentError for a bad option or address. */
  static async listen(options: QadServerOptions): Promise<QadServer> {
    const what = 'QadServer.listen';
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${what}: options must be an object { cert, key, bind?, maxSessions? }`);
    checkOptionKeys(`${what} options`, options, ['bind', 'cert', 'key', 'maxSessions']);
    checkType(what, 'bind', options.bind, 'string');
    if (options.cert === undefined || options.key === undefined) throw new InvalidArgumentError(`${what}: cert and key are required (the relay's certificate)`);
    const endpoint = await Endpoint.bind({
      bind: options.bind ?? '127.0.0.1:0',
      alpns: [QAD_ALPN],
      tls: { mode: 'x509', cert: options.cert, key: options.key },
      // Report only; nothing else to offer: no streams, no multipath, no tickets to resume with.
      transport: { addressDiscovery: true, multipath: false, keepAliveIntervalMs: 0, streams: { maxConcurrentBidiStreams: 0, maxConcurrentUniStreams: 0 } },
      tickets: false,
      sessionCache: false,
      ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    });
    return new QadServer(endpoint);
  }

  /** The port bound. */
  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1));
  }

  /** Clients connected now. */
  get sessionCount(): number {
    return this.held.size;
  }

  /** Closes every client's connection (code 1 "finished", as iroh's relay) and the socket. */
  async close(): Promise<void> {
    for (const s of this.held) s.close({ closeCode: 1, reason: 'finished' });
    await this.endpoint.close();
    await this.accepting;
  }

  private async acceptAll(): Promise<void> {
    for await (const s of this.endpoint) {
      // The connection reports by itself (address-discovery.ts); it is held until it ends.
      this.held.add(s);
      void s.closed.finally(() => this.held.delete(s));
    }
  }
}
