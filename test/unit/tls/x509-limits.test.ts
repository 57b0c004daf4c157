import assert from 'node:assert/strict';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { handleCertificate } from '../../../src/tls/peer-auth.js';
import { Transcript } from '../../../src/tls/key-schedule.js';
import { encodeCertificate, HandshakeReassembler, MAX_HANDSHAKE_MESSAGE } from '../../../src/tls/messages.js';
import { MAX_PATH_LENGTH } from '../../../src/tls/x509/verify.js';

/** The caps of X.509 mode (test/LIMITS.md, "TLS, X.509 mode"). */
describe('X.509 mode limits', () => {
  const config = {
    certificateType: 'x509' as const,
    x509: {
      identities: [],
      verify: (): void => {
        throw new Error('the verifier must not be reached');
      },
    },
  };

  it('a chain of 11 certificates is refused before parsing', () => {
    const entries = Array.from({ length: MAX_PATH_LENGTH + 1 }, () => ({ data: new Uint8Array(100).fill(0x30), extensions: [] }));
    const raw = encodeCertificate({ context: new Uint8Array(0), entries });
    const t = new Transcript();
    t.selectHash('sha256');
    assert.throws(
      () => handleCertificate({ type: raw[0]!, body: raw.subarray(4), raw }, 'server', config, t),
      (e: unknown) => e instanceof TlsAlert && e.alert === Alert.bad_certificate && /11 certificates sent, at most 10/.test(e.message),
    );
  });

  it('garbage in place of a certificate is a bad_certificate', () => {
    const raw = encodeCertificate({ context: new Uint8Array(0), entries: [{ data: Uint8Array.of(0x30, 0x03, 2, 1, 1), extensions: [] }] });
    const t = new Transcript();
    t.selectHash('sha256');
    assert.throws(
      () => handleCertificate({ type: raw[0]!, body: raw.subarray(4), raw }, 'server', config, t),
      (e: unknown) => e instanceof TlsAlert && e.alert === Alert.bad_certificate,
    );
  });

  it('a Certificate message over 64 KiB is a decode_error', () => {
    const r = new HandshakeReassembler();
    const len = MAX_HANDSHAKE_MESSAGE + 1;
    r.push(Uint8Array.of(11, len >> 16, (len >> 8) & 0xff, len & 0xff));
    assert.throws(() => r.next(), (e: unknown) => e instanceof TlsAlert && e.alert === Alert.decode_error);
  });
});
