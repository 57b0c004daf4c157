import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { Alert } from '../../../src/tls/alerts.js';
import { TlsClient } from '../../../src/tls/client.js';
import { Level, type X509Settings } from '../../../src/tls/engine.js';
import { decodeU16List, ExtensionType, findExtension } from '../../../src/tls/extensions.js';
import { decodeClientHello, HandshakeType } from '../../../src/tls/messages.js';
import { parseCertificate } from '../../../src/tls/x509/certificate.js';
import { certifiedKey, chooseCertifiedKey, type CertifiedKey } from '../../../src/tls/x509/certified-key.js';
import { certificatesFromPem } from '../../../src/tls/x509/pem.js';
import { OFFERED_SCHEMES, Scheme } from '../../../src/tls/x509/signatures.js';
import { verifyPath } from '../../../src/tls/x509/verify.js';
import { generateCertificate, type CertificateKeyType, type GeneratedCertificate } from '../../../src/session/certificates.js';
import { clientConfig, drain, expectFailure, runHandshake, serverConfig } from './helpers.js';

/**
 * X.509 mode with any key type (TlsConfig.x509), in memory: our client against our server with
 * each key type, the choice of chain by signature_algorithms and SNI, and the alerts of a failed
 * check. Validity is checked at a fixed time inside the certificates' fixed window.
 */
const NOT_BEFORE = new Date(Date.UTC(2020, 0, 1));
const NOT_AFTER = new Date(Date.UTC(2040, 0, 1));
const NOW = Date.UTC(2030, 0, 1);

async function issue(names: string[], keyType: CertificateKeyType, issuer: GeneratedCertificate): Promise<CertifiedKey> {
  const g = await generateCertificate({ names, keyType, issuer, notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
  return certifiedKey([...certificatesFromPem(g.cert), ...certificatesFromPem(issuer.cert)], createPrivateKey(g.key));
}

describe('TLS X.509 mode with certified keys (TlsConfig.x509)', function () {
  this.timeout(20_000);
  let root: GeneratedCertificate;
  const keys = new Map<string, CertifiedKey>();
  before(async () => {
    root = await generateCertificate({ names: ['Unit Root'], ca: true, notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    for (const t of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'] as const) keys.set(t, await issue(['server.test'], t, root));
    keys.set('other', await issue(['other.test'], 'ecdsa-p256', root));
  });

  const anchors = (): ReturnType<typeof parseCertificate>[] => certificatesFromPem(root.cert).map((d) => parseCertificate(d));
  const clientX509 = (over: Partial<X509Settings> = {}, name = 'server.test', now = NOW): X509Settings => ({
    identities: [],
    verify: (chain) => void verifyPath(chain, { anchors: anchors(), now, name: { dns: name }, purpose: 'serverAuth' }),
    ...over,
  });
  const serverX509 = (ids: CertifiedKey[]): X509Settings => ({ identities: ids });

  for (const [type, scheme] of [['ecdsa-p256', Scheme.ecdsa_secp256r1_sha256], ['ecdsa-p384', Scheme.ecdsa_secp384r1_sha384], ['ed25519', Scheme.ed25519], ['rsa-2048', Scheme.rsa_pss_rsae_sha256]] as const) {
    it(`a ${type} chain: the client verifies it and the ${type === 'rsa-2048' ? 'RSA-PSS' : type} CertificateVerify`, () => {
      const r = runHandshake(
        clientConfig({ certificateType: 'x509', serverName: 'server.test', x509: clientX509() }),
        serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509([keys.get(type)!]) }),
      );
      assert.equal(r.error, undefined, r.error?.alert.message);
      assert.equal(r.client.peerCertificates?.length, 2);
      const flight = r.serverEvents.find((e) => e.kind === 'writeData' && e.level === Level.Handshake);
      assert.ok(flight?.kind === 'writeData');
      // The CertificateVerify names the scheme: find it after the Certificate message.
      const at = findMessage(flight.data, HandshakeType.certificate_verify);
      assert.equal((flight.data[at + 4]! << 8) | flight.data[at + 5]!, scheme);
    });
  }

  it('the client offers ECDSA, RSA-PSS and Ed25519 (and PKCS #1 for certificates only)', () => {
    const c = new TlsClient(clientConfig({ certificateType: 'x509', x509: clientX509() }));
    c.start();
    const ch = drain(c)[0]!;
    assert.ok(ch.kind === 'writeData');
    const sa = findExtension(decodeClientHello(ch.data.subarray(4)).extensions, ExtensionType.signature_algorithms)!;
    assert.deepEqual(decodeU16List(sa), [...OFFERED_SCHEMES]);
  });

  it('the server picks its chain by the client schemes and SNI', () => {
    const all = [keys.get('other')!, keys.get('rsa-2048')!, keys.get('ecdsa-p256')!];
    assert.equal(chooseCertifiedKey(all, [Scheme.rsa_pss_rsae_sha256], 'server.test')?.key, keys.get('rsa-2048'));
    assert.equal(chooseCertifiedKey(all, [Scheme.ecdsa_secp256r1_sha256], 'server.test')?.key, keys.get('ecdsa-p256'));
    assert.equal(chooseCertifiedKey(all, [Scheme.ecdsa_secp256r1_sha256], 'other.test')?.key, keys.get('other'));
    // No name match: the first that can sign for the client.
    assert.equal(chooseCertifiedKey(all, [Scheme.ecdsa_secp256r1_sha256], 'nowhere.test')?.key, keys.get('other'));
    assert.equal(chooseCertifiedKey(all, [Scheme.ed25519], undefined), undefined);
    const r = runHandshake(
      clientConfig({ certificateType: 'x509', serverName: 'server.test', x509: clientX509() }),
      serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509(all) }),
    );
    assert.equal(r.error, undefined, r.error?.alert.message);
    // 'other' is not valid for server.test; the RSA chain is, and the client accepts RSA-PSS.
    assert.deepEqual(r.client.peerCertificates?.[0], keys.get('rsa-2048')!.chain[0]);
  });

  it('no chain the client can verify: handshake_failure from the server', () => {
    // The Ed25519-only form of X.509 mode offers ed25519 alone.
    const f = expectFailure(clientConfig({ certificateType: 'x509' }), serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509([keys.get('ecdsa-p256')!]) }));
    assert.deepEqual(f, { side: 'server', alert: Alert.handshake_failure });
  });

  it('each failed check is the alert RFC 9846 §6.2 names, raised by the client', () => {
    const server = serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509([keys.get('ecdsa-p256')!]) });
    const run = (x: X509Settings): { side: string; alert: number } => expectFailure(clientConfig({ certificateType: 'x509', x509: x }), server);
    assert.deepEqual(run(clientX509({}, 'server.test', NOT_AFTER.getTime() + 1000)), { side: 'client', alert: Alert.certificate_expired });
    assert.deepEqual(run(clientX509({}, 'wrong.test')), { side: 'client', alert: Alert.bad_certificate });
    assert.deepEqual(run({ identities: [], verify: (chain) => void verifyPath(chain, { anchors: [], now: NOW, purpose: 'serverAuth' }) }), { side: 'client', alert: Alert.unknown_ca });
  });

  it('a forged CertificateVerify is a decrypt_error', () => {
    const f = expectFailure(
      clientConfig({ certificateType: 'x509', x509: clientX509() }),
      serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509([keys.get('ecdsa-p256')!]) }),
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Handshake) return data;
          const out = data.slice();
          const at = findMessage(out, HandshakeType.certificate_verify);
          out[at + 10] = out[at + 10]! ^ 1; // inside the ECDSA signature's DER
          return out;
        },
      },
    );
    assert.equal(f.side, 'client');
    assert.ok(f.alert === Alert.decrypt_error || f.alert === Alert.decode_error, `alert ${f.alert}`);
  });

  it('key exchange: a client sharing only P-256 is answered in P-256; one sharing nothing gets an HRR to X25519', () => {
    const server = serverConfig({ certificateType: 'x509', requireClientAuth: false, x509: serverX509([keys.get('ecdsa-p256')!]) });
    for (const [shares, hellos, group] of [[['secp256r1'], 1, 0x0017], [[], 2, 0x001d]] as const) {
      const r = runHandshake(clientConfig({ certificateType: 'x509', x509: clientX509(), initialKeyShares: shares }), server);
      assert.equal(r.error, undefined, r.error?.alert.message);
      const sh = r.serverEvents.filter((e) => e.kind === 'writeData' && e.level === Level.Initial);
      assert.equal(sh.length, hellos);
      const last = sh[sh.length - 1]!;
      assert.ok(last.kind === 'writeData');
      // ServerHello key_share (51): the group after the extension header.
      const at = Buffer.from(last.data).indexOf(Buffer.from([0x00, 0x33]));
      assert.equal((last.data[at + 4]! << 8) | last.data[at + 5]!, group);
    }
  });

  it('mutual authentication: the server verifies the client chain and exposes it', () => {
    const clientKey = keys.get('ed25519')!;
    const r = runHandshake(
      clientConfig({ certificateType: 'x509', x509: clientX509({ identities: [clientKey] }) }),
      serverConfig({
        certificateType: 'x509', requireClientAuth: true,
        x509: { identities: [keys.get('ecdsa-p256')!], verify: (chain) => void verifyPath(chain, { anchors: anchors(), now: NOW, purpose: 'clientAuth' }) },
      }),
    );
    assert.equal(r.error, undefined, r.error?.alert.message);
    assert.deepEqual(r.server.peerCertificates, clientKey.chain);
  });
});

/** Offset of the first handshake message of `type` in a flight. */
function findMessage(flight: Uint8Array, type: number): number {
  for (let at = 0; at + 4 <= flight.length; at += 4 + ((flight[at + 1]! << 16) | (flight[at + 2]! << 8) | flight[at + 3]!)) {
    if (flight[at] === type) return at;
  }
  throw new Error(`no message ${type} in the flight`);
}
