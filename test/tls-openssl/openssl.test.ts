import assert from 'node:assert/strict';
import { connect as netConnect, createServer as netCreateServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls';
import { Alert, TlsAlert, alertName } from '../../src/tls/alerts.js';
import { TlsClient } from '../../src/tls/client.js';
import { Level, type KeyLogger, type TlsConfig } from '../../src/tls/engine.js';
import { toHex } from '../../src/codec/bytes.js';
import { TlsServer } from '../../src/tls/server.js';
import { SeededRandom } from '../../src/tls/random.js';
import { CIPHER_SUITES, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 } from '../../src/tls/suites.js';
import { makeIdentity, type TestIdentity } from './certs.js';
import { PeerAlertError, RecordLayer, type RecordLayerOptions, type TracedMessage } from './record.js';

/**
 * Cross-check of our TLS 1.3 client and server state machines against OpenSSL (node:tls), over
 * TCP on 127.0.0.1 with the test record layer of record.ts. OpenSSL 3.0 has no raw public keys,
 * so both sides use Ed25519 X.509 certificates; messages, key schedule, transcript,
 * CertificateVerify and Finished are the same code as in RPK mode.
 */

const ALPN = 'quic-peer-test';
const SUITES = [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256];
/** Every step of every test is bounded: loopback handshakes take milliseconds. */
const STEP_MS = 3000;
const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const CERTIFICATE_REQUEST = 13;
const CERTIFICATE_VERIFY = 15;
const FINISHED = 20;
/** RFC 9846 §4.1.3: the Random of a HelloRetryRequest. */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** A ServerHello's random: after legacy_version (RFC 9846 §4.1.3). */
function serverRandom(m: TracedMessage): Buffer {
  return Buffer.from(m.body.subarray(2, 34));
}

function suiteName(id: number): string {
  return CIPHER_SUITES.get(id)!.name;
}

function withTimeout<T>(p: Promise<T>, what: string, ms = STEP_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Servers and sockets opened by the current test, closed after it whatever happened. */
const open: Array<Server | Socket> = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    if ('destroy' in o) o.destroy();
    else o.close();
  }
});

async function listen(server: Server): Promise<number> {
  open.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return (server.address() as AddressInfo).port;
}

function config(id: TestIdentity, seed: number, extra: Partial<TlsConfig> = {}): TlsConfig {
  return {
    secretKey: id.seed,
    certificateType: 'x509',
    certificateChain: [id.certDer],
    alpnProtocols: [ALPN],
    random: new SeededRandom(seed),
    ...extra,
  };
}

/** A node:tls server that echoes; `accepted` resolves with its socket once secure. */
async function nodeServer(opts: TlsOptions): Promise<{ port: number; accepted: Promise<TLSSocket>; clientError: Promise<Error>; keyLog: string[] }> {
  const keyLog: string[] = [];
  let onAccept!: (s: TLSSocket) => void;
  let onError!: (e: Error) => void;
  const accepted = new Promise<TLSSocket>((res) => (onAccept = res));
  const clientError = new Promise<Error>((res) => (onError = res));
  const server = tlsCreateServer({ minVersion: 'TLSv1.3', ...opts }, (sock) => {
    open.push(sock);
    sock.on('data', (d) => sock.write(d));
    sock.on('error', () => undefined);
    onAccept(sock);
  });
  server.on('tlsClientError', (e) => onError(e));
  server.on('keylog', (line: Buffer) => keyLog.push(line.toString().trim()));
  return { port: await listen(server), accepted, clientError, keyLog };
}

/** Our client engine over TCP to `port`. */
function ourClient(port: number, cfg: TlsConfig, opts: RecordLayerOptions = {}): RecordLayer {
  const socket = netConnect(port, '127.0.0.1');
  open.push(socket);
  return new RecordLayer(socket, new TlsClient(cfg), opts);
}

/** A TCP server running our server engine, echoing application data. */
async function ourServer(cfg: TlsConfig, opts: RecordLayerOptions = {}): Promise<{ port: number; layer: Promise<RecordLayer> }> {
  let onLayer!: (l: RecordLayer) => void;
  const layer = new Promise<RecordLayer>((res) => (onLayer = res));
  const server = netCreateServer((socket) => {
    open.push(socket);
    const l = new RecordLayer(socket, new TlsServer(cfg), opts);
    onLayer(l);
    void (async () => {
      await l.handshake;
      for (;;) l.send(await l.read());
    })().catch(() => undefined);
  });
  return { port: await listen(server), layer };
}

interface NodeClient {
  readonly sock: TLSSocket;
  /** Resolves at secureConnect, rejects on an error before it. */
  readonly secure: Promise<void>;
  /** The first error of the socket, whenever it happens. */
  readonly error: Promise<Error>;
  /** OpenSSL's SSLKEYLOGFILE lines. */
  readonly keyLog: string[];
}

function nodeClient(port: number, opts: ConnectionOptions): NodeClient {
  const sock = tlsConnect({
    host: '127.0.0.1',
    port,
    minVersion: 'TLSv1.3',
    ALPNProtocols: [ALPN],
    checkServerIdentity: () => undefined,
    ...opts,
  });
  open.push(sock);
  const keyLog: string[] = [];
  sock.on('keylog', (line) => keyLog.push(line.toString().trim()));
  const error = new Promise<Error>((res) => sock.on('error', res));
  const secure = new Promise<void>((res, rej) => {
    sock.once('secureConnect', () => res());
    void error.then(rej);
  });
  secure.catch(() => undefined);
  return { sock, secure, error, keyLog };
}

/** Reads exactly `n` bytes from a node socket. */
function readNode(sock: TLSSocket, n: number): Promise<Buffer> {
  return new Promise((res, rej) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        sock.off('data', onData);
        res(buf.subarray(0, n));
      }
    };
    sock.on('data', onData);
    sock.once('error', rej);
  });
}

/** The rejection of `p` (fails if it resolves). */
async function rejection(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await withTimeout(p, what);
  } catch (e) {
    return e;
  }
  assert.fail(`${what}: expected a failure`);
}

/**
 * A tamper hook flipping the last byte of every outgoing message of `type` (the signature of a
 * CertificateVerify, the verify_data of a Finished): OpenSSL must notice.
 */
function corrupt(type: number): RecordLayerOptions {
  return {
    tamper: (_level, data) => {
      const out = new Uint8Array(data);
      for (let i = 0; i + 4 <= out.length; ) {
        const end = i + 4 + ((out[i + 1]! << 16) | (out[i + 2]! << 8) | out[i + 3]!);
        if (out[i] === type && end <= out.length) out[end - 1]! ^= 1;
        i = end;
      }
      return out;
    },
  };
}

/** Our engine's key log in SSLKEYLOGFILE lines, to compare with OpenSSL's. */
function keyLogger(): { lines: string[]; keyLog: KeyLogger } {
  const lines: string[] = [];
  return { lines, keyLog: (label, random, secret) => lines.push(`${label} ${toHex(random)} ${toHex(secret)}`) };
}

/**
 * The four traffic secrets (RFC 9846 §7.1) we derived are exactly OpenSSL's. OpenSSL also logs
 * EXPORTER_SECRET, which QUIC does not need.
 */
function assertSameSecrets(ours: string[], openssl: string[]): void {
  assert.deepEqual(
    [...ours].sort(),
    openssl.filter((l) => !l.startsWith('EXPORTER_SECRET')).sort(),
  );
  assert.equal(ours.length, 4);
}

function payload(n: number, seed: number): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

describe('TLS 1.3 engine against OpenSSL (node:tls, X.509 Ed25519)', function () {
  this.timeout(15000);
  let serverId: TestIdentity;
  let clientId: TestIdentity;
  let otherId: TestIdentity;

  before(async () => {
    [serverId, clientId, otherId] = await Promise.all([
      makeIdentity('server.test'),
      makeIdentity('client.test'),
      makeIdentity('other.test'),
    ]);
  });

  describe('our client -> node:tls server', () => {
    for (const suite of SUITES) {
      it(`${suiteName(suite)}: secrets equal OpenSSL's, server key checked, data echoed, tickets received`, async () => {
        const srv = await nodeServer({ key: serverId.keyPem, cert: serverId.certPem, ciphers: suiteName(suite), ALPNProtocols: [ALPN] });
        const log = keyLogger();
        const c = ourClient(srv.port, config(clientId, suite, { expectedPeerKey: serverId.publicKey, keyLog: log.keyLog }));
        await withTimeout(c.handshake, 'client handshake');
        assert.equal(c.engine.suite?.id, suite);
        assert.equal(c.engine.alpn, ALPN);
        assert.deepEqual(c.engine.peerPublicKey, serverId.publicKey);

        const nodeSock = await withTimeout(srv.accepted, 'node accept');
        assert.equal(nodeSock.getCipher().standardName, suiteName(suite));
        assert.equal(nodeSock.alpnProtocol, ALPN);
        assert.equal(nodeSock.getProtocol(), 'TLSv1.3');
        assertSameSecrets(log.lines, srv.keyLog);

        c.send(new TextEncoder().encode('ping'));
        assert.equal(new TextDecoder().decode(await withTimeout(c.read(4), 'echo')), 'ping');
        // More than one record each way (2^14-byte fragments), echoed back in order.
        const big = payload(50_000, suite);
        c.send(big);
        assert.deepEqual(await withTimeout(c.read(big.length), 'big echo'), big);
        // OpenSSL sends 2 NewSessionTickets after the client's Finished (SSL_CTX num_tickets).
        assert.equal(c.tickets.length, 2);
        for (const t of c.tickets) assert.ok(t.lifetime > 0 && t.ticket.length > 0);
      });
    }

    it('HelloRetryRequest: initialKeyShares [] makes OpenSSL ask for X25519', async () => {
      const srv = await nodeServer({ key: serverId.keyPem, cert: serverId.certPem, ALPNProtocols: [ALPN] });
      const c = ourClient(srv.port, config(clientId, 11, { expectedPeerKey: serverId.publicKey, initialKeyShares: [] }));
      await withTimeout(c.handshake, 'client handshake after HRR');
      const hellos = c.received.filter((m) => m.level === Level.Initial && m.type === SERVER_HELLO);
      assert.equal(hellos.length, 2, 'a HelloRetryRequest then a ServerHello');
      assert.deepEqual(serverRandom(hellos[0]!), HRR_RANDOM);
      assert.notDeepEqual(serverRandom(hellos[1]!), HRR_RANDOM);
      assert.equal(c.sent.filter((m) => m.type === CLIENT_HELLO).length, 2, 'two ClientHellos');
      c.send(new TextEncoder().encode('after hrr'));
      assert.equal(new TextDecoder().decode(await withTimeout(c.read(9), 'echo')), 'after hrr');
    });

    it('a server key other than expectedPeerKey: bad_certificate, and OpenSSL receives that alert', async () => {
      const srv = await nodeServer({ key: otherId.keyPem, cert: otherId.certPem, ALPNProtocols: [ALPN] });
      const c = ourClient(srv.port, config(clientId, 12, { expectedPeerKey: serverId.publicKey }));
      const e = await rejection(c.handshake, 'client handshake');
      assert.ok(e instanceof TlsAlert, String(e));
      assert.equal(e.alert, Alert.bad_certificate);
      // The alert went out under the client handshake key; OpenSSL decrypted and named it.
      const nodeErr = await withTimeout(srv.clientError, 'node tlsClientError');
      assert.match(nodeErr.message, /bad certificate/i);
    });

    it('OpenSSL checks our client Finished: a flipped bit gets decrypt_error', async () => {
      const srv = await nodeServer({ key: serverId.keyPem, cert: serverId.certPem, ALPNProtocols: [ALPN] });
      const c = ourClient(srv.port, config(clientId, 14, { expectedPeerKey: serverId.publicKey }), corrupt(FINISHED));
      const nodeErr = await withTimeout(srv.clientError, 'node tlsClientError');
      assert.match(nodeErr.message, /digest check failed/i);
      const e = await rejection(c.failed, 'client failure');
      assert.ok(e instanceof PeerAlertError, String(e));
      assert.equal(e.alert, Alert.decrypt_error);
    });

    it('OpenSSL checks our client CertificateVerify: a flipped signature bit gets decrypt_error', async () => {
      const srv = await nodeServer({
        key: serverId.keyPem, cert: serverId.certPem, ALPNProtocols: [ALPN],
        requestCert: true, rejectUnauthorized: true, ca: [clientId.certPem],
      });
      const c = ourClient(srv.port, config(clientId, 15, { expectedPeerKey: serverId.publicKey }), corrupt(CERTIFICATE_VERIFY));
      const nodeErr = await withTimeout(srv.clientError, 'node tlsClientError');
      assert.match(nodeErr.message, /bad signature/i);
      const e = await rejection(c.failed, 'client failure');
      assert.ok(e instanceof PeerAlertError, String(e));
      assert.equal(e.alert, Alert.decrypt_error);
    });

    it('client certificate requested by OpenSSL: sent, verified by OpenSSL, data echoed', async () => {
      const srv = await nodeServer({
        key: serverId.keyPem, cert: serverId.certPem, ALPNProtocols: [ALPN],
        requestCert: true, rejectUnauthorized: true, ca: [clientId.certPem],
      });
      const c = ourClient(srv.port, config(clientId, 16, { expectedPeerKey: serverId.publicKey }));
      await withTimeout(c.handshake, 'client handshake');
      const nodeSock = await withTimeout(srv.accepted, 'node accept');
      assert.equal(nodeSock.authorized, true, String(nodeSock.authorizationError));
      assert.deepEqual(new Uint8Array(nodeSock.getPeerCertificate().raw), clientId.certDer);
      c.send(new TextEncoder().encode('mutual'));
      assert.equal(new TextDecoder().decode(await withTimeout(c.read(6), 'echo')), 'mutual');
    });

    it('over TCP (no transport parameters) a server that selects no ALPN is accepted', async () => {
      // RFC 7301 §3.1 lets a TLS server ignore ALPN; only QUIC makes it mandatory (RFC 9001 §8.1).
      const srv = await nodeServer({ key: serverId.keyPem, cert: serverId.certPem });
      const c = ourClient(srv.port, config(clientId, 17, { expectedPeerKey: serverId.publicKey }));
      await withTimeout(c.handshake, 'client handshake');
      assert.equal(c.engine.alpn, undefined);
    });

    it('no common ALPN: OpenSSL refuses with no_application_protocol', async () => {
      const srv = await nodeServer({ key: serverId.keyPem, cert: serverId.certPem, ALPNProtocols: ['something/else'] });
      const c = ourClient(srv.port, config(clientId, 13, { expectedPeerKey: serverId.publicKey }));
      const e = await rejection(c.handshake, 'client handshake');
      assert.ok(e instanceof PeerAlertError, String(e));
      assert.equal(e.alert, Alert.no_application_protocol, alertName(e.alert));
    });
  });

  describe('node:tls client -> our server', () => {
    for (const suite of SUITES) {
      for (const clientAuth of [true, false]) {
        it(`${suiteName(suite)}, client certificate ${clientAuth ? 'required' : 'not requested'}: secrets equal OpenSSL's, data echoed`, async () => {
          const log = keyLogger();
          const srv = await ourServer(config(serverId, suite, { requireClientAuth: clientAuth, keyLog: log.keyLog }));
          const { sock, secure, keyLog } = nodeClient(srv.port, {
            ca: [serverId.certPem],
            ciphers: suiteName(suite),
            ...(clientAuth ? { key: clientId.keyPem, cert: clientId.certPem } : {}),
          });
          await withTimeout(secure, 'node client handshake');
          assert.equal(sock.authorized, true, String(sock.authorizationError));
          assert.equal(sock.alpnProtocol, ALPN);
          assert.equal(sock.getCipher().standardName, suiteName(suite));
          assert.deepEqual(new Uint8Array(sock.getPeerCertificate().raw), serverId.certDer);

          const layer = await withTimeout(srv.layer, 'server accept');
          await withTimeout(layer.handshake, 'server handshake');
          assert.equal(layer.engine.suite?.id, suite);
          assert.equal(layer.engine.alpn, ALPN);
          assertSameSecrets(log.lines, keyLog);
          assert.deepEqual(layer.engine.peerPublicKey, clientAuth ? clientId.publicKey : undefined);
          // A CertificateRequest was sent exactly when client authentication is required.
          assert.equal(layer.sent.some((m) => m.type === CERTIFICATE_REQUEST), clientAuth);

          sock.write('hello from openssl');
          assert.equal((await withTimeout(readNode(sock, 18), 'echo')).toString(), 'hello from openssl');
        });
      }
    }

    it('an OpenSSL client sharing P-256 only is answered with P-256 at once', async () => {
      const srv = await ourServer(config(serverId, 21, { requireClientAuth: false }));
      const { sock, secure } = nodeClient(srv.port, { ca: [serverId.certPem], ecdhCurve: 'P-256:X25519' });
      await withTimeout(secure, 'node client handshake');
      const layer = await withTimeout(srv.layer, 'server accept');
      const hellos = layer.sent.filter((m) => m.level === Level.Initial && m.type === SERVER_HELLO);
      assert.equal(hellos.length, 1, 'no HelloRetryRequest');
      // key_share (51) with group secp256r1 (0x0017) and a 65-byte point.
      assert.ok(Buffer.from(hellos[0]!.body).includes(Buffer.from('003300450017004104', 'hex')), 'ServerHello key_share is P-256');
      sock.write('p256');
      assert.equal((await withTimeout(readNode(sock, 4), 'echo')).toString(), 'p256');
    });

    it('HelloRetryRequest: an OpenSSL client sharing P-384 first gets an HRR to P-256', async () => {
      const srv = await ourServer(config(serverId, 21, { requireClientAuth: false }));
      const { sock, secure } = nodeClient(srv.port, { ca: [serverId.certPem], ecdhCurve: 'P-384:P-256' });
      await withTimeout(secure, 'node client handshake');
      const layer = await withTimeout(srv.layer, 'server accept');
      const hellos = layer.sent.filter((m) => m.level === Level.Initial && m.type === SERVER_HELLO);
      assert.equal(hellos.length, 2, 'a HelloRetryRequest then a ServerHello');
      assert.deepEqual(serverRandom(hellos[0]!), HRR_RANDOM);
      assert.notDeepEqual(serverRandom(hellos[1]!), HRR_RANDOM);
      assert.equal(layer.received.filter((m) => m.type === CLIENT_HELLO).length, 2, 'two ClientHellos');
      sock.write('hrr');
      assert.equal((await withTimeout(readNode(sock, 3), 'echo')).toString(), 'hrr');
    });

    for (const [what, type, re] of [
      ['CertificateVerify', CERTIFICATE_VERIFY, /bad signature/i],
      ['Finished', FINISHED, /digest check failed/i],
    ] as const) {
      it(`OpenSSL checks our server ${what}: a flipped bit gets decrypt_error`, async () => {
        const srv = await ourServer(config(serverId, 23, { requireClientAuth: false }), corrupt(type));
        const { error } = nodeClient(srv.port, { ca: [serverId.certPem] });
        assert.match((await withTimeout(error, 'node client error')).message, re);
        const layer = await withTimeout(srv.layer, 'server accept');
        const e = await rejection(layer.failed, 'server failure');
        assert.ok(e instanceof PeerAlertError, String(e));
        assert.equal(e.alert, Alert.decrypt_error);
      });
    }

    it('client certificate required but none sent: certificate_required reaches OpenSSL', async () => {
      const srv = await ourServer(config(serverId, 22, { requireClientAuth: true }));
      const { secure, error } = nodeClient(srv.port, { ca: [serverId.certPem] });
      // In TLS 1.3 the client completes before the server has checked its (empty) Certificate.
      await withTimeout(secure, 'node client handshake');
      const layer = await withTimeout(srv.layer, 'server accept');
      const e = await rejection(layer.handshake, 'server handshake');
      assert.ok(e instanceof TlsAlert, String(e));
      assert.equal(e.alert, Alert.certificate_required);
      const nodeErr = await withTimeout(error, 'node client error');
      assert.match(nodeErr.message, /certificate required/i);
    });
  });
});
