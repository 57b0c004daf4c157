/**
 * quic-peer/http: the application protocols of the QUIC interop matrix on top of the Session API:
 * hq-interop (HTTP/0.9) and a minimal HTTP/3 (RFC 9114, with QPACK's static table only, RFC 9204)
 * client and file server, and WebTransport over HTTP/3 (`WebTransportServer`, `connectWebTransport`),
 * whose sessions are the package's `Session` (kind 'webtransport').
 */
export { FileServer, FILE_SERVER_ALPNS } from './server.js';
export { H3Client, type H3Response, type H3GetOptions } from './h3-client.js';
export { H3Connection, H3_ALPN } from './h3-connection.js';
export { serveH3, H3ServerSession } from './h3-server.js';
export { HQ_ALPN, hqGet, serveHq, parseHqRequest } from './hq.js';
export { H3Error, HttpRequestError, h3ErrorName } from './errors.js';
export { FileLookupError, resolveFile } from './files.js';
export type { FileServerOptions, ServedRequest } from './serve-files.js';
export { encodeFieldSection, decodeFieldSection, type HeaderField } from './qpack.js';
export { WebTransportServer, generateWebTransportCertificate, certificateHash, type WebTransportServerOptions, type WebTransportListenOptions } from './wt-server.js';
export type { WebTransportSession, WebTransportRequest } from './wt-session.js';
export { WtConnection, WebTransportRefusedError, negotiateDraft, webTransportSettings } from './wt-connection.js';
export { wtCodeToHttp, httpCodeToWt, type WebTransportDraft } from './wt-protocol.js';
export { connectWebTransport, type WebTransportConnectOptions } from './wt-client.js';
