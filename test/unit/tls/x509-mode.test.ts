import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { CertificateType, Level, type PeerCertificate } from '../../../src/tls/engine.js';
import { TlsClient } from '../../../src/tls/client.js';
import { TlsServer } from '../../../src/tls/server.js';
import { x509Ed25519PublicKey } from '../../../src/tls/crypto.js';
import { decodeServerHello } from '../../../src/tls/messages.js';
import { CLIENT_KEY, CLIENT_SEED, SERVER_KEY, SERVER_SEED, clientConfig, describe_, drain, expectFailure, runHandshake, serverConfig } from './helpers.js';

/** X.509 mode: certificates made deterministically (fixed dates, Ed25519 signatures). */
async function selfSigned(seed: Uint8Array, cn: string): Promise<Uint8Array> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const pk8 = new Uint8Array([...Buffer.from('302e020100300506032b657004220420', 'hex'), ...seed]);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pk8, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await webcrypto.subtle.exportKey('jwk', privateKey);
  const publicKey = await webcrypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x! }, { name: 'Ed25519' }, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2040-01-01T00:00:00Z'),
    keys: { privateKey, publicKey },
    signingAlgorithm: { name: 'Ed25519' },
  });
  return new Uint8Array(cert.rawData);
}

async function ecdsaCert(): Promise<Uint8Array> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '02', name: 'CN=ec', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z'),
    keys, signingAlgorithm: alg,
  });
  return new Uint8Array(cert.rawData);
}

describe('TLS X.509 mode', () => {
  let serverCert: Uint8Array;
  let clientCert: Uint8Array;
  before(async () => {
    serverCert = await selfSigned(SERVER_SEED, 'server');
    clientCert = await selfSigned(CLIENT_SEED, 'client');
  });

  it('extracts the Ed25519 key of a certificate', () => {
    assert.deepEqual(x509Ed25519PublicKey(serverCert), SERVER_KEY);
  });

  it('mutual X.509 authentication in QUIC mode', () => {
    const r = runHandshake(
      clientConfig({ certificateType: 'x509', certificateChain: [clientCert] }),
      serverConfig({ certificateType: 'x509', certificateChain: [serverCert] }),
    );
    assert.equal(r.error, undefined, r.error?.alert.message);
    assert.deepEqual(r.client.peerPublicKey, SERVER_KEY);
    assert.deepEqual(r.server.peerPublicKey, CLIENT_KEY);
    assert.equal(r.client.alpn, 'test/1');
  });

  it('non-QUIC mode, server without client auth: no transport parameters, no CertificateRequest', () => {
    const { transportParameters: _a, ...cc } = clientConfig({ certificateType: 'x509', serverName: 'localhost' });
    const { transportParameters: _b, ...sc } = serverConfig({ certificateType: 'x509', certificateChain: [serverCert], requireClientAuth: false });
    const r = runHandshake(cc, sc);
    assert.equal(r.error, undefined, r.error?.alert.message);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
    assert.equal(r.server.peerPublicKey, undefined);
    assert.ok(!r.clientEvents.some((e) => e.kind === 'peerTransportParameters'));
    assert.deepEqual(r.serverEvents.map(describe_), [
      'writeData(Initial)', 'writeSecret(Handshake)', 'readSecret(Handshake)', 'writeData(Handshake)',
      'writeSecret(Application)', 'readSecret(Application)', 'handshakeDone',
    ]);
    // The client's second flight is its Finished alone.
    const flight = r.clientEvents.filter((e) => e.kind === 'writeData')[1]!;
    assert.ok(flight.kind === 'writeData');
    assert.equal(flight.data[0], 20);
    assert.equal(flight.data.length, 4 + 32);
  });

  it('non-QUIC mode: the server echoes a 32-byte legacy_session_id (OpenSSL clients send one)', () => {
    const { transportParameters: _a, ...cc } = clientConfig({ certificateType: 'x509' });
    const { transportParameters: _b, ...sc } = serverConfig({ certificateType: 'x509', certificateChain: [serverCert] });
    const c = new TlsClient(cc);
    c.start();
    const ch = drain(c)[0]!;
    assert.ok(ch.kind === 'writeData');
    const body = ch.data.subarray(4);
    const sid = new Uint8Array(32).fill(0x5a);
    const patched = new Uint8Array([...body.subarray(0, 34), 32, ...sid, ...body.subarray(35)]);
    const msg = new Uint8Array([1, 0, patched.length >> 8, patched.length & 0xff, ...patched]);
    const s = new TlsServer(sc);
    s.handleData(Level.Initial, msg);
    const sh = drain(s).find((e) => e.kind === 'writeData' && e.level === Level.Initial);
    assert.ok(sh?.kind === 'writeData');
    assert.deepEqual(decodeServerHello(sh.data.subarray(4)).legacySessionIdEcho, sid);
  });

  it('a custom verifier sees the X.509 chain', () => {
    let seen: PeerCertificate | undefined;
    const r = runHandshake(
      clientConfig({
        certificateType: 'x509', certificateChain: [clientCert],
        verifyPeer: (p) => {
          seen = p;
          return x509Ed25519PublicKey(p.entries[0]!)!;
        },
      }),
      serverConfig({ certificateType: 'x509', certificateChain: [serverCert] }),
    );
    assert.equal(r.error, undefined);
    assert.equal(seen?.type, CertificateType.X509);
    assert.deepEqual(seen?.entries, [serverCert]);
  });

  it('a server whose key is not the expected one: bad_certificate', () => {
    const f = expectFailure(
      clientConfig({ certificateType: 'x509', certificateChain: [clientCert], expectedPeerKey: CLIENT_KEY }),
      serverConfig({ certificateType: 'x509', certificateChain: [serverCert] }),
    );
    assert.deepEqual(f, { side: 'client', alert: Alert.bad_certificate });
  });

  it('a certificate whose key is not Ed25519: bad_certificate', async () => {
    const ec = await ecdsaCert();
    const f = expectFailure(
      clientConfig({ certificateType: 'x509', certificateChain: [clientCert] }),
      serverConfig({ certificateType: 'x509', certificateChain: [ec] }),
    );
    assert.deepEqual(f, { side: 'client', alert: Alert.bad_certificate });
  });

  it('an X.509 client without a certificate, when the server requires one: certificate_required', () => {
    const f = expectFailure(clientConfig({ certificateType: 'x509' }), serverConfig({ certificateType: 'x509', certificateChain: [serverCert] }));
    assert.deepEqual(f, { side: 'server', alert: Alert.certificate_required });
  });

  it('an RPK client against an X.509 server fails (server sends no certificate type)', () => {
    const f = expectFailure(clientConfig(), serverConfig({ certificateType: 'x509', certificateChain: [serverCert] }));
    assert.deepEqual(f, { side: 'client', alert: Alert.handshake_failure });
    assert.ok(new TlsAlert(Alert.handshake_failure, '').quicCode === 0x128);
  });
});
