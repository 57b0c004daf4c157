/**
 * Dialling a WebTransport URL from Node: `connectWebTransport('https://host:port/path', options)`
 * opens a QUIC connection (ALPN h3, X.509), starts HTTP/3 with WebTransport's SETTINGS, sends the
 * extended CONNECT and resolves with the session (a `Session`) once the server answered 2xx. As a
 * browser, it can accept the server by `serverCertificateHashes` (SHA-256 of the certificate's DER,
 * W3C WebTransport §4.3): the handshake still proves the server holds the certificate's key
 * (CertificateVerify), and the certificate must be one of the hashes. One connection per session,
 * as Chromium does: closing the session ends the connection.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { ConnectError, Endpoint, Session, type DialTlsOptions } from '../index.js';
import { H3_ALPN } from './h3-connection.js';
import { WtConnection } from './wt-connection.js';
import type { WebTransportSession } from './wt-session.js';

export interface WebTransportConnectOptions {
  /** Accept a server whose certificate's DER has one of these SHA-256 hashes (hex, or bytes). */
  readonly serverCertificateHashes?: ReadonlyArray<{ algorithm: 'sha-256'; value: string | Uint8Array }>;
  /** Or verify the server's chain (X.509 options of `Session.connect`). */
  readonly tls?: DialTlsOptions;
  /** The endpoint to dial from; default one bound for this session (closed with it). */
  readonly endpoint?: Endpoint;
  /** The `origin` header to send. */
  readonly origin?: string;
  readonly timeoutMs?: number;
}

/** Opens a WebTransport session to `url` (https://host:port/path). */
export async function connectWebTransport(url: string, options: WebTransportConnectOptions = {}): Promise<WebTransportSession> {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new TypeError(`connectWebTransport: a WebTransport URL is https://..., got ${url}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0 && host !== 'localhost') throw new TypeError(`connectWebTransport: the host must be an IP address or localhost (no name resolution), got ${host}`);
  const ip = host === 'localhost' ? '127.0.0.1' : host;
  const port = u.port === '' ? 443 : Number(u.port);
  const hashes = (options.serverCertificateHashes ?? []).map((h) => (typeof h.value === 'string' ? h.value.toLowerCase() : Buffer.from(h.value).toString('hex')));
  const tls: DialTlsOptions = options.tls ?? (hashes.length > 0 ? { insecureSkipVerify: true } : {});
  const ownEndpoint = options.endpoint === undefined;
  const ep = options.endpoint ?? (await Endpoint.bind({ bind: isIP(ip) === 6 ? '[::1]:0' : '127.0.0.1:0', acceptIncoming: false }));
  let quic: Session | undefined;
  try {
    quic = await Session.connect(ep, isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`, {
      alpn: H3_ALPN,
      serverName: host,
      tls,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    if (hashes.length > 0 && options.tls === undefined) {
      const leaf = quic.peerCertificates?.[0];
      const got = leaf ? createHash('sha256').update(leaf).digest('hex') : '';
      if (!hashes.includes(got)) throw new ConnectError('authentication', `the server's certificate (sha-256 ${got || 'none'}) is not one of serverCertificateHashes`);
    }
    const conn = await WtConnection.start(quic, 'client');
    const s = await conn.connect(u.host, `${u.pathname}${u.search}`, options.origin);
    if (ownEndpoint) void quic.closed.then(() => ep.close());
    return s;
  } catch (e) {
    quic?.close({ closeCode: 0x10c, reason: 'WebTransport session not opened' });
    if (ownEndpoint) await ep.close();
    throw e;
  }
}
