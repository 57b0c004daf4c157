import assert from 'node:assert/strict';
import { toHex } from '../../../src/codec/bytes.js';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { ed25519Sign, ed25519Signer } from '../../../src/tls/crypto.js';
import { SignatureScheme } from '../../../src/tls/extensions.js';
import { certificateVerifyInput } from '../../../src/tls/handshake.js';
import { Transcript } from '../../../src/tls/key-schedule.js';
import { encodeCertificate, encodeCertificateVerify, HANDSHAKE_HEADER_SIZE, type RawHandshake } from '../../../src/tls/messages.js';
import { handleCertificate, handleCertificateVerify, type PeerAuthConfig } from '../../../src/tls/peer-auth.js';
import { wrapEd25519Spki } from '../../../src/tls/rpk.js';
import { CLIENT_KEY, CLIENT_SEED, SERVER_KEY } from './helpers.js';

/**
 * The one implementation of the peer's Certificate and CertificateVerify that client and server
 * share (RFC 9846 §4.4.2, §4.4.3): every check runs the same for either sender, except the alert
 * for an empty Certificate; the transcript grows only by a message that passed.
 */

const RPK: PeerAuthConfig = { certificateType: 'rawPublicKey' };
const ROLES = ['client', 'server'] as const;

function raw(bytes: Uint8Array): RawHandshake {
  return { type: bytes[0]!, body: bytes.subarray(HANDSHAKE_HEADER_SIZE), raw: bytes };
}

/** A SHA-256 transcript that already holds one message, so "unchanged" is a real digest. */
function transcript(): Transcript {
  const t = new Transcript();
  t.selectHash('sha256');
  t.add(Uint8Array.of(1, 0, 0, 1, 0));
  return t;
}

function certificate(entries: Uint8Array[], context = new Uint8Array(0), extensions: { type: number; data: Uint8Array }[] = []): RawHandshake {
  return raw(encodeCertificate({ context, entries: entries.map((data) => ({ data, extensions })) }));
}

const alert = (code: number, message?: RegExp) => (e: unknown): boolean =>
  e instanceof TlsAlert && e.alert === code && (message === undefined || message.test(e.message));

describe('peer authentication shared by client and server (peer-auth.ts)', () => {
  for (const from of ROLES) {
    describe(`a ${from}'s Certificate and CertificateVerify`, () => {
      it('a raw public key: returns the key and adds the message to the transcript', () => {
        const t = transcript();
        const expected = transcript();
        const msg = certificate([wrapEd25519Spki(CLIENT_KEY)]);
        assert.equal(toHex(handleCertificate(msg, from, RPK, t) as Uint8Array), toHex(CLIENT_KEY));
        expected.add(msg.raw);
        assert.equal(toHex(t.digest()), toHex(expected.digest()));
      });

      it('refusals leave the transcript as it was', () => {
        const cases: Array<[string, RawHandshake, PeerAuthConfig, (e: unknown) => boolean]> = [
          ['non-empty context', certificate([wrapEd25519Spki(CLIENT_KEY)], Uint8Array.of(7)), RPK, alert(Alert.illegal_parameter, /certificate_request_context/)],
          ['an entry extension', certificate([wrapEd25519Spki(CLIENT_KEY)], undefined, [{ type: 5, data: new Uint8Array(0) }]), RPK, alert(Alert.unsupported_extension)],
          ['two raw public keys', certificate([wrapEd25519Spki(CLIENT_KEY), wrapEd25519Spki(SERVER_KEY)]), RPK, alert(Alert.bad_certificate, /one entry/)],
          ['not the expected key', certificate([wrapEd25519Spki(CLIENT_KEY)]), { ...RPK, expectedPeerKey: SERVER_KEY }, alert(Alert.bad_certificate, /expected/)],
          ['a verifier without a key', certificate([wrapEd25519Spki(CLIENT_KEY)]), { ...RPK, verifyPeer: () => new Uint8Array(0) }, alert(Alert.bad_certificate, /verifier/)],
        ];
        for (const [what, msg, config, check] of cases) {
          const t = transcript();
          assert.throws(() => handleCertificate(msg, from, config, t), check, what);
          assert.equal(toHex(t.digest()), toHex(transcript().digest()), what);
        }
      });

      it('a CertificateVerify over the transcript up to the Certificate, in the sender\'s context', () => {
        const signer = ed25519Signer(CLIENT_SEED);
        const sign = (role: 'client' | 'server', t: Transcript) =>
          raw(encodeCertificateVerify({ scheme: SignatureScheme.ed25519, signature: ed25519Sign(signer, certificateVerifyInput(role, t.digest())) }));

        const t = transcript();
        const good = sign(from, t);
        handleCertificateVerify(good, from, CLIENT_KEY, t);
        const expected = transcript();
        expected.add(good.raw);
        assert.equal(toHex(t.digest()), toHex(expected.digest()), 'added once verified');

        // Signed with the other side's context string (RFC 9846 §4.4.3): decrypt_error.
        const other = from === 'client' ? 'server' : 'client';
        const t2 = transcript();
        assert.throws(() => handleCertificateVerify(sign(other, t2), from, CLIENT_KEY, t2), alert(Alert.decrypt_error));
        assert.equal(toHex(t2.digest()), toHex(transcript().digest()), 'not added when refused');

        const ecdsa = raw(encodeCertificateVerify({ scheme: 0x0403, signature: new Uint8Array(64) }));
        assert.throws(() => handleCertificateVerify(ecdsa, from, CLIENT_KEY, transcript()), alert(Alert.illegal_parameter, /0x403 not offered/));
      });
    });
  }

  it('an empty Certificate: decode_error from a server, certificate_required from a client (RFC 9846 §4.4.2.4)', () => {
    const t = transcript();
    assert.throws(() => handleCertificate(certificate([]), 'server', RPK, t), alert(Alert.decode_error, /server sent no certificate/));
    assert.throws(() => handleCertificate(certificate([]), 'client', RPK, t), alert(Alert.certificate_required, /client sent no certificate/));
    assert.equal(toHex(t.digest()), toHex(transcript().digest()));
  });

  it('a configured verifier decides, and its key is copied', () => {
    const key = CLIENT_KEY.slice();
    let seen: readonly Uint8Array[] = [];
    const config: PeerAuthConfig = {
      certificateType: 'rawPublicKey',
      verifyPeer: (cert) => {
        seen = cert.entries;
        return key;
      },
    };
    const spki = wrapEd25519Spki(SERVER_KEY);
    const out = handleCertificate(certificate([spki]), 'server', config, transcript());
    assert.equal(toHex(seen[0]!), toHex(spki));
    assert.equal(toHex(out as Uint8Array), toHex(key));
    assert.notEqual(out, key);
  });
});
