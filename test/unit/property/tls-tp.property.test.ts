import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../../src/codec/reader.js';
import { Writer } from '../../../src/codec/writer.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { decodeTransportParameters, TransportParameterId } from '../../../src/quic/transport-params.js';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { readExtensions, writeExtensions, type Extension } from '../../../src/tls/extensions.js';
import * as M from '../../../src/tls/messages.js';
import { ED25519_SPKI_PREFIX, unwrapEd25519Spki, wrapEd25519Spki } from '../../../src/tls/rpk.js';
import { bytes, fcParams, varintBig } from './fc.js';

/**
 * fast-check properties of the TLS message and extension codecs (RFC 9846 §4), raw public keys
 * (RFC 7250, RFC 8410) and transport parameters as a list (RFC 9000 §18). test/unit/tls/codec.test.ts
 * and transport-params.test.ts round-trip typed values; these state what holds for ANY list of
 * entries (duplicates, unknown ids, any lengths) and shrink a failure to its smallest list.
 */
const extension: fc.Arbitrary<Extension> = fc.record({ type: fc.integer({ min: 0, max: 0xffff }), data: bytes(40) });
const uniqueExtensions = fc.uniqueArray(extension, { selector: (e) => e.type, maxLength: 8 });

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Array.from(x).join(',') : x));
}

describe('property (fast-check): TLS extensions and messages (RFC 9846 §4)', () => {
  it('an extension list round-trips; one with a repeated type is an illegal_parameter alert', () => {
    fc.assert(
      fc.property(uniqueExtensions, fc.nat(), (exts, k) => {
        const w = Writer.growable(256);
        writeExtensions(w, exts);
        const b = w.buf.slice(0, w.pos);
        assert.equal(show(readExtensions(new Reader(b))), show(exts));
        if (exts.length === 0) return;
        const dup = [...exts, { type: exts[k % exts.length]!.type, data: new Uint8Array(1) }];
        const w2 = Writer.growable(256);
        writeExtensions(w2, dup);
        assert.throws(() => readExtensions(new Reader(w2.buf.slice(0, w2.pos))), (e: unknown) => e instanceof TlsAlert && e.alert === Alert.illegal_parameter);
      }),
      fcParams(0x7e1, 300),
    );
  });

  it('ClientHello / ServerHello / EncryptedExtensions / Certificate round-trip byte for byte; a truncated body fails only with DecodeError or TlsAlert', () => {
    const hello = fc.record({
      legacyVersion: fc.constant(0x0303),
      random: bytes(32, 32),
      legacySessionId: bytes(32),
      cipherSuites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 5 }),
      compressionMethods: bytes(3, 1),
      extensions: uniqueExtensions,
    });
    const message = fc.oneof(
      hello.map((m) => ({ raw: M.encodeClientHello(m), decode: M.decodeClientHello, encode: (x: unknown) => M.encodeClientHello(x as M.ClientHello) })),
      hello.map((m) => {
        const sh: M.ServerHello = { legacyVersion: m.legacyVersion, random: m.random, legacySessionIdEcho: m.legacySessionId, cipherSuite: m.cipherSuites[0]!, compressionMethod: 0, extensions: m.extensions };
        return { raw: M.encodeServerHello(sh), decode: M.decodeServerHello, encode: (x: unknown) => M.encodeServerHello(x as M.ServerHello) };
      }),
      uniqueExtensions.map((extensions) => ({ raw: M.encodeEncryptedExtensions({ extensions }), decode: M.decodeEncryptedExtensions, encode: (x: unknown) => M.encodeEncryptedExtensions(x as M.EncryptedExtensions) })),
      fc.array(fc.record({ data: bytes(60, 1), extensions: uniqueExtensions }), { maxLength: 3 }).map((entries) => ({
        raw: M.encodeCertificate({ context: new Uint8Array(0), entries }),
        decode: M.decodeCertificate,
        encode: (x: unknown) => M.encodeCertificate(x as M.Certificate),
      })),
    );
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const body = m.raw.subarray(M.HANDSHAKE_HEADER_SIZE);
        assert.deepEqual(m.encode(m.decode(body)), m.raw);
        const c = cut % body.length;
        try {
          m.decode(body.subarray(0, c));
          // (A cut on an entry boundary of a Certificate list can still decode.)
        } catch (e) {
          assert.ok(e instanceof DecodeError || e instanceof TlsAlert, String(e));
        }
      }),
      fcParams(0x7e2, 300),
    );
  });

  it('a raw public key is exactly the Ed25519 SPKI prefix plus 32 bytes; anything else is bad_certificate', () => {
    fc.assert(
      fc.property(bytes(32, 32), bytes(50), fc.boolean(), (key, junk, genuine) => {
        const spki = genuine ? wrapEd25519Spki(key) : junk;
        const ok = spki.length === 44 && ED25519_SPKI_PREFIX.every((b, i) => spki[i] === b);
        try {
          assert.deepEqual(unwrapEd25519Spki(spki), spki.subarray(12));
          assert.ok(ok);
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof TlsAlert && e.alert === Alert.bad_certificate && !ok, String(e));
        }
      }),
      fcParams(0x7e3, 300),
    );
  });
});

describe('property (fast-check): transport parameters as a list (RFC 9000 §18, §7.4)', () => {
  const ids = Object.values(TransportParameterId);
  const entry = fc.record({
    id: fc.oneof(fc.constantFrom(...ids.map(BigInt)), fc.constantFrom(27n, 31n * 3n + 27n, 0x3fffn), varintBig),
    value: fc.oneof(bytes(24), varintBig.map(varintBytes)),
  });

  it('any list of (id, value): decodes, or fails with TRANSPORT_PARAMETER_ERROR; a repeated id always fails', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 10 }), fc.constantFrom('client' as const, 'server' as const), fc.boolean(), (list, role, repeat) => {
        const entries = repeat && list.length > 0 ? [...list, list[0]!] : list;
        const w = Writer.growable(256);
        for (const e of entries) {
          w.varintExact(toNum(e.id));
          w.varint(e.value.length);
          w.bytesOf(e.value);
        }
        const repeated = new Set(entries.map((e) => e.id)).size !== entries.length;
        try {
          decodeTransportParameters(w.buf.slice(0, w.pos), role);
          assert.ok(!repeated, 'accepted a repeated parameter');
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof TransportError && e.code === TransportErrorCode.TRANSPORT_PARAMETER_ERROR, String(e));
        }
      }),
      fcParams(0x7b1, 400),
    );
  });
});

function toNum(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function varintBytes(v: bigint): Uint8Array {
  const w = Writer.growable(8);
  w.varintExact(toNum(v));
  return w.buf.slice(0, w.pos);
}
