import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { connect as netConnect, createServer as netCreateServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from 'node:tls';
import { generateCertificate, type CertificateKeyType, type GeneratedCertificate } from '../../src/session/certificates.js';
import { Level, type TlsConfig, type X509Settings } from '../../src/tls/engine.js';
import { TlsClient } from '../../src/tls/client.js';
import { TlsServer } from '../../src/tls/server.js';
import { SeededRandom } from '../../src/tls/random.js';
import { parseCertificate } from '../../src/tls/x509/certificate.js';
import { certifiedKey, type CertifiedKey } from '../../src/tls/x509/certified-key.js';
import { certificatesFromPem } from '../../src/tls/x509/pem.js';
import { Scheme } from '../../src/tls/x509/signatures.js';
import { verifyPath } from '../../src/tls/x509/verify.js';
import { RecordLayer } from './record.js';

/**
 * X.509 mode against OpenSSL (node:tls) over TCP on 127.0.0.1, with the record layer of
 * record.ts: our client verifies OpenSSL servers' ECDSA, RSA and Ed25519 chains and their
 * CertificateVerify (RSA-PSS included), OpenSSL verifies ours (chain, name and signature), a
 * HelloRetryRequest to P-256, and mutual authentication both ways.
 */

const ALPN = 'quic-peer-test';
const STEP_MS = 5000;
const SERVER_HELLO = 2;
const CERTIFICATE_VERIFY = 15;

const open: Array<Server | Socket> = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    if ('destroy' in o) o.destroy();
    else o.close();
  }
});

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), STEP_MS)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('X.509 mode against OpenSSL (node:tls)', function () {
  this.timeout(30_000);
  let root: GeneratedCertificate;
  const leaves = new Map<CertificateKeyType, GeneratedCertificate>();
  const keys = new Map<CertificateKeyType, CertifiedKey>();
  let clientCert: GeneratedCertificate;

  before(async () => {
    root = await generateCertificate({ names: ['OpenSSL cross-check root'], ca: true });
    for (const t of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'] as const) {
      const g = await generateCertificate({ names: ['localhost', '127.0.0.1'], keyType: t, issuer: root });
      leaves.set(t, g);
      keys.set(t, certifiedKey(certificatesFromPem(g.cert), createPrivateKey(g.key)));
    }
    clientCert = await generateCertificate({ names: ['client'], issuer: root, extKeyUsage: ['clientAuth'] });
  });

  const anchors = (): ReturnType<typeof parseCertificate>[] => certificatesFromPem(root.cert).map((d) => parseCertificate(d));
  const clientSettings = (identities: CertifiedKey[] = []): X509Settings => ({
    identities,
    verify: (chain) => void verifyPath(chain, { anchors: anchors(), now: Date.now(), name: { dns: 'localhost' }, purpose: 'serverAuth' }),
  });
  const base = (seed: number, x509: X509Settings, extra: Partial<TlsConfig> = {}): TlsConfig => ({
    secretKey: new Uint8Array(32).fill(seed),
    certificateType: 'x509',
    alpnProtocols: [ALPN],
    random: new SeededRandom(seed),
    x509,
    ...extra,
  });

  async function nodeServer(opts: Parameters<typeof tlsCreateServer>[0]): Promise<{ port: number; accepted: Promise<TLSSocket> }> {
    let onAccept!: (s: TLSSocket) => void;
    const accepted = new Promise<TLSSocket>((res) => (onAccept = res));
    const server = tlsCreateServer({ minVersion: 'TLSv1.3', ALPNProtocols: [ALPN], ...opts }, (sock) => {
      open.push(sock);
      sock.on('data', (d) => sock.write(d));
      sock.on('error', () => undefined);
      onAccept(sock);
    });
    server.on('tlsClientError', () => undefined);
    open.push(server);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    return { port: (server.address() as AddressInfo).port, accepted };
  }

  function ourClient(port: number, cfg: TlsConfig): RecordLayer {
    const socket = netConnect(port, '127.0.0.1');
    open.push(socket);
    return new RecordLayer(socket, new TlsClient(cfg));
  }

  async function ourServer(cfg: TlsConfig): Promise<{ port: number; layer: Promise<RecordLayer> }> {
    let onLayer!: (l: RecordLayer) => void;
    const layer = new Promise<RecordLayer>((res) => (onLayer = res));
    const server = netCreateServer((socket) => {
      open.push(socket);
      const l = new RecordLayer(socket, new TlsServer(cfg));
      onLayer(l);
      void (async () => {
        await l.handshake;
        for (;;) l.send(await l.read());
      })().catch(() => undefined);
    });
    open.push(server);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    return { port: (server.address() as AddressInfo).port, layer };
  }

  async function echoThrough(c: RecordLayer, text: string): Promise<void> {
    c.send(new TextEncoder().encode(text));
    assert.equal(new TextDecoder().decode(await withTimeout(c.read(text.length), 'echo')), text);
  }

  for (const [type, scheme] of [
    ['ecdsa-p256', Scheme.ecdsa_secp256r1_sha256],
    ['ecdsa-p384', Scheme.ecdsa_secp384r1_sha384],
    ['ed25519', Scheme.ed25519],
    ['rsa-2048', Scheme.rsa_pss_rsae_sha256],
  ] as const) {
    it(`our client verifies an OpenSSL server's ${type} chain and its CertificateVerify`, async () => {
      const g = leaves.get(type)!;
      const srv = await nodeServer({ key: g.key, cert: g.cert + root.cert });
      const c = ourClient(srv.port, base(1, clientSettings(), { serverName: 'localhost' }));
      await withTimeout(c.handshake, 'client handshake');
      assert.equal(c.engine.peerCertificates?.length, 2);
      const cv = c.received.find((m) => m.type === CERTIFICATE_VERIFY)!;
      assert.equal((cv.body[0]! << 8) | cv.body[1]!, scheme);
      await echoThrough(c, `hello ${type}`);
    });

    it(`OpenSSL verifies our ${type} chain (CA, name, CertificateVerify)`, async () => {
      const srv = await ourServer(base(2, { identities: [keys.get(type)!] }, { requireClientAuth: false }));
      const sock = tlsConnect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ca: [root.cert], minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
      open.push(sock);
      await withTimeout(new Promise<void>((res, rej) => sock.once('secureConnect', res).once('error', rej)), 'node client handshake');
      assert.equal(sock.authorized, true, String(sock.authorizationError));
      sock.write('ping');
      const echoed = await withTimeout(new Promise<Buffer>((res) => sock.once('data', res)), 'echo');
      assert.equal(echoed.toString(), 'ping');
    });
  }

  it('a server that shares only P-256 gets our second ClientHello after its HelloRetryRequest', async () => {
    const g = leaves.get('ecdsa-p256')!;
    const srv = await nodeServer({ key: g.key, cert: g.cert, ecdhCurve: 'P-256' });
    const c = ourClient(srv.port, base(3, clientSettings(), { serverName: 'localhost' }));
    await withTimeout(c.handshake, 'client handshake after HRR');
    assert.equal(c.received.filter((m) => m.level === Level.Initial && m.type === SERVER_HELLO).length, 2, 'HelloRetryRequest then ServerHello');
    await echoThrough(c, 'after hrr to P-256');
  });

  it('OpenSSL refuses a chain for another name, and our client an OpenSSL chain for another name', async () => {
    const srv = await ourServer(base(4, { identities: [keys.get('ecdsa-p256')!] }, { requireClientAuth: false }));
    const sock = tlsConnect({ host: '127.0.0.1', port: srv.port, servername: 'other.test', ca: [root.cert], minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
    open.push(sock);
    const err = await withTimeout(new Promise<Error>((res) => sock.once('error', res)), 'node client refusal');
    assert.match(err.message, /other\.test/);

    const g = leaves.get('ecdsa-p256')!;
    const srv2 = await nodeServer({ key: g.key, cert: g.cert });
    const x: X509Settings = { identities: [], verify: (chain) => void verifyPath(chain, { anchors: anchors(), now: Date.now(), name: { dns: 'other.test' }, purpose: 'serverAuth' }) };
    const c = ourClient(srv2.port, base(5, x, { serverName: 'other.test' }));
    await assert.rejects(withTimeout(c.handshake, 'refusal'), /bad_certificate: the certificate is not valid for the name "other.test"/);
  });

  it('mutual authentication: OpenSSL requests and verifies our client certificate', async () => {
    const g = leaves.get('ecdsa-p256')!;
    const srv = await nodeServer({ key: g.key, cert: g.cert, requestCert: true, rejectUnauthorized: true, ca: [root.cert] });
    const mine = certifiedKey(certificatesFromPem(clientCert.cert), createPrivateKey(clientCert.key));
    const c = ourClient(srv.port, base(6, clientSettings([mine]), { serverName: 'localhost' }));
    await withTimeout(c.handshake, 'client handshake');
    await echoThrough(c, 'mutual');
    const sock = await withTimeout(srv.accepted, 'node accept');
    assert.equal(sock.authorized, true);
    assert.equal(sock.getPeerCertificate().subject.CN, 'client');
  });

  it('mutual authentication: our server requests and verifies an OpenSSL client certificate', async () => {
    const srv = await ourServer(base(7, {
      identities: [keys.get('ecdsa-p256')!],
      verify: (chain) => void verifyPath(chain, { anchors: anchors(), now: Date.now(), purpose: 'clientAuth' }),
    }, { requireClientAuth: true }));
    const sock = tlsConnect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ca: [root.cert], cert: clientCert.cert, key: clientCert.key, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
    open.push(sock);
    await withTimeout(new Promise<void>((res, rej) => sock.once('secureConnect', res).once('error', rej)), 'node client handshake');
    sock.write('m');
    assert.equal((await withTimeout(new Promise<Buffer>((res) => sock.once('data', res)), 'echo')).toString(), 'm');
    const layer = await withTimeout(srv.layer, 'server accept');
    await withTimeout(layer.handshake, 'server handshake');
    assert.deepEqual(layer.engine.peerCertificates?.[0], certificatesFromPem(clientCert.cert)[0]);
  });
});
