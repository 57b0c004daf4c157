import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/codec/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { DerReader, Tag, readBits, readOid, readTime } from '../../../src/tls/x509/der.js';
import { parseCertificate } from '../../../src/tls/x509/certificate.js';
import { certificatesFromPem } from '../../../src/tls/x509/pem.js';
import { generateCertificate } from '../../../src/session/certificates.js';

/** The DER reader of X.509 mode (src/tls/x509/der.ts) and the certificate parser over it. */
describe('X.509 DER reader and certificate parser', () => {
  it('reads OIDs, bit strings and both time types (X.690, RFC 5280 §4.1.2.5)', () => {
    assert.equal(readOid(Uint8Array.of(0x55, 0x1d, 0x13)), '2.5.29.19');
    assert.equal(readOid(Uint8Array.of(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01)), '1.3.6.1.5.5.7.3.1');
    assert.equal(readOid(Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)), '1.2.840.10045.3.1.7');
    // keyUsage digitalSignature | keyCertSign: 03 02 02 84 -> content 02 84.
    assert.deepEqual(readBits(Uint8Array.of(0x02, 0x84)), [true, false, false, false, false, true]);
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(readTime({ tag: Tag.UTC_TIME, content: text('491231235959Z'), raw: new Uint8Array(0) }), Date.UTC(2049, 11, 31, 23, 59, 59));
    assert.equal(readTime({ tag: Tag.UTC_TIME, content: text('500101000000Z'), raw: new Uint8Array(0) }), Date.UTC(1950, 0, 1));
    assert.equal(readTime({ tag: Tag.GENERALIZED_TIME, content: text('20500101000000Z'), raw: new Uint8Array(0) }), Date.UTC(2050, 0, 1));
  });

  it('refuses malformed DER with DecodeError: truncation, non-minimal and indefinite lengths, bad times and OIDs', () => {
    const bad: Array<() => unknown> = [
      () => new DerReader(Uint8Array.of(0x30)).next(),
      () => new DerReader(Uint8Array.of(0x30, 0x02, 0x01)).next(),
      () => new DerReader(Uint8Array.of(0x30, 0x81, 0x05, 0, 0, 0, 0, 0)).next(), // 0x81 for a length < 128
      () => new DerReader(Uint8Array.of(0x30, 0x80, 0, 0)).next(),
      () => new DerReader(Uint8Array.of(0x1f, 0x01, 0x00)).next(),
      () => new DerReader(Uint8Array.of(0x02, 0x01, 0x00)).next(Tag.SEQUENCE),
      () => readOid(Uint8Array.of(0x55, 0x9d)),
      () => readOid(Uint8Array.of(0x80, 0x01)),
      () => readBits(Uint8Array.of(0x08, 0x00)),
      () => readTime({ tag: Tag.UTC_TIME, content: new TextEncoder().encode('491331235959Z'), raw: new Uint8Array(0) }),
      () => readTime({ tag: Tag.UTC_TIME, content: new TextEncoder().encode('4912312359Z'), raw: new Uint8Array(0) }),
    ];
    for (const [i, f] of bad.entries()) assert.throws(f, DecodeError, `case ${i}`);
  });

  it('a certificate: every truncated prefix and 2,000 seeded corruptions parse or fail with DecodeError, never otherwise', async () => {
    const g = await generateCertificate({ names: ['der.test', '127.0.0.1'], ca: false });
    const der = certificatesFromPem(g.cert)[0]!;
    const c = parseCertificate(der);
    assert.deepEqual(c.extKeyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(c.basicConstraints?.ca, false);
    assert.equal(c.keyUsage?.[0], true);
    for (let n = 0; n < der.length; n++) assert.throws(() => parseCertificate(der.subarray(0, n)), DecodeError, `prefix ${n}`);
    const rnd = new SeededRandom(7);
    const byte = new Uint8Array(3);
    for (let i = 0; i < 2000; i++) {
      const m = der.slice();
      rnd.fill(byte);
      m[((byte[0]! << 8) | byte[1]!) % m.length] = byte[2]!;
      try {
        parseCertificate(m);
      } catch (e) {
        assert.ok(e instanceof DecodeError, `corruption ${i}: ${String(e)}`);
      }
    }
  });
});
