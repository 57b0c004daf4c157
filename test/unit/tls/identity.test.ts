import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { ED25519_SPKI_PREFIX, wrapEd25519Spki } from '../../../src/tls/rpk.js';
import {
  EndpointId,
  InvalidEndpointIdError,
  InvalidSecretKeyError,
  PKCS8_PREFIX,
  base32Decode,
  base32Encode,
  base32Length,
  formatSecretKeyFile,
  generateSecretKey,
  parseSecretKeyFile,
  publicKeyOf,
  secretKeyFromBytes,
  secretKeyFromHex,
} from '../../../src/tls/identity.js';


// IROH.md, Addressing: a ticket made by iroh 1.0.2 and the id it holds.
const IROH_ID = '451a243701706d301268c272d60c0bcfb68925a36d2268e071bcb2abd0fc70eb';
const IROH_TICKET = 'endpointabcrujbxafyg2masndbhfvqmbph3ncjfunwse2haog6lfk6q7ryowaibab7qaaabqaea';
const IROH_TICKET_BYTES = `00${IROH_ID}0101007f0000018008`;
const IROH_TICKET2 =
  'endpointabcrujbxafyg2masndbhfvqmbph3ncjfunwse2haog6lfk6q7ryowaqbab7qaaabqaeacaiaaaaaaaaaaaaaaaaaaaaaaaabxmbq';
// 00 ‖ id ‖ 2 addrs ‖ 01 00 127.0.0.1 port 1024 ‖ 01 01 ::1 port 443.
const IROH_TICKET2_BYTES = `00${IROH_ID}02` + '01007f0000018008' + `0101${'00'.repeat(15)}01` + 'bb03';

// RFC 8032 §7.1, TEST 1 and TEST 2: secret key (seed) -> public key.
const RFC8032 = [
  ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'],
  ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'],
] as const;

/** The error `fn` throws (fails if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

function idError(fn: () => unknown): InvalidEndpointIdError {
  const e = thrown(fn);
  assert.ok(e instanceof InvalidEndpointIdError, `expected InvalidEndpointIdError, got ${String(e)}`);
  return e;
}

describe('base32 (RFC 4648 §6, no padding)', () => {
  // RFC 4648 §10, padding removed.
  const VECTORS: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];

  it('encodes the RFC 4648 §10 vectors (lowercase) and decodes them in any case', () => {
    for (const [plain, enc] of VECTORS) {
      const bytes = new TextEncoder().encode(plain);
      assert.equal(base32Encode(bytes), enc.toLowerCase());
      assert.equal(base32Length(bytes.length), enc.length);
      assert.deepEqual(base32Decode(enc), bytes);
      assert.deepEqual(base32Decode(enc.toLowerCase()), bytes);
    }
  });

  it('round-trips every length 0..40 with size == characters written', () => {
    const r = new SeededRandom(1);
    for (let n = 0; n <= 40; n++) {
      const b = r.fill(new Uint8Array(n));
      const s = base32Encode(b);
      assert.equal(s.length, base32Length(n));
      assert.match(s, /^[a-z2-7]*$/);
      assert.deepEqual(base32Decode(s), b);
      assert.deepEqual(base32Decode(s.toUpperCase()), b);
    }
  });

  it('every truncated prefix of an encoding either fails or is the canonical encoding of fewer bytes', () => {
    const s = base32Encode(fromHex(IROH_ID));
    for (let n = 0; n < s.length; n++) {
      const prefix = s.slice(0, n);
      let out: Uint8Array;
      try {
        out = base32Decode(prefix);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
        continue;
      }
      // A prefix can only decode if its length is a valid one and its trailing bits are zero.
      assert.equal(base32Encode(out), prefix);
      assert.ok(out.length < 32);
    }
    // The full 52-character id minus one character is always refused (51 = 3 mod 8).
    assert.throws(() => base32Decode(s.slice(0, 51)), DecodeError);
  });

  it('refuses malformed input with DecodeError', () => {
    const BAD: Array<[string, RegExp]> = [
      ['a', /length 1/],
      ['mzx', /length 3/],
      ['mzxw6y', /length 6/],
      ['my======', /invalid base32 character "="/],
      ['MY=', /length 3/],
      ['m1', /invalid base32 character "1"/],
      ['m8', /invalid base32 character "8"/],
      ['m y', /length 3/],
      [' m', /invalid base32 character " "/],
      ['mz', /trailing bits/], // "mz": 10 bits, the last 2 must be zero ("my")
      ['mzxr', /trailing bits/], // "fo" is "mzxq"
      ['é2', /invalid base32 character/],
    ];
    for (const [input, re] of BAD) {
      const e = thrown(() => base32Decode(input));
      assert.ok(e instanceof DecodeError, `${input}: ${String(e)}`);
      assert.match(e.message, re, input);
    }
  });

  it('property: decoding random strings returns canonical bytes or throws DecodeError only', () => {
    const r = new SeededRandom(0xba5e);
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ2345670189=- ';
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      const len = r.int(20);
      let s = '';
      const narrow = r.int(2) === 0; // half the time only valid characters
      for (let j = 0; j < len; j++) s += alphabet[r.int(narrow ? 58 : alphabet.length)];
      try {
        const b = base32Decode(s);
        assert.equal(base32Encode(b), s.toLowerCase());
        ok++;
      } catch (e) {
        assert.ok(e instanceof DecodeError, `${JSON.stringify(s)}: ${String(e)}`);
      }
    }
    assert.ok(ok > 100, `only ${ok} random strings decoded`);
  });

  it('decodes the iroh tickets of IROH.md to their documented bytes, and back', () => {
    for (const [ticket, bytes] of [[IROH_TICKET, IROH_TICKET_BYTES], [IROH_TICKET2, IROH_TICKET2_BYTES]] as const) {
      assert.ok(ticket.startsWith('endpoint'));
      const body = base32Decode(ticket.slice('endpoint'.length));
      assert.equal(toHex(body), bytes);
      assert.equal(base32Encode(body), ticket.slice('endpoint'.length));
    }
  });
});

describe('secret keys', () => {
  it('generates 32 bytes from the injected Random, deterministically', () => {
    const a = generateSecretKey(new SeededRandom(7));
    const b = generateSecretKey(new SeededRandom(7));
    const c = generateSecretKey(new SeededRandom(8));
    assert.equal(a.length, 32);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('derives the RFC 8032 §7.1 public keys', () => {
    for (const [sk, pk] of RFC8032) {
      assert.equal(toHex(publicKeyOf(fromHex(sk))), pk);
      assert.equal(EndpointId.fromSecretKey(fromHex(sk)).toString(), pk);
    }
  });

  it('node:crypto derivation agrees with @noble/curves over seeded keys', () => {
    const r = new SeededRandom(42);
    for (let i = 0; i < 32; i++) {
      const sk = generateSecretKey(r);
      assert.deepEqual(publicKeyOf(sk), ed25519.getPublicKey(sk));
    }
  });

  it('the PKCS #8 key of a seed signs what its derived public key verifies (SPKI = prefix ‖ key)', () => {
    const sk = generateSecretKey(new SeededRandom(3));
    const priv = createPrivateKey({ key: Buffer.from([...PKCS8_PREFIX, ...sk]), format: 'der', type: 'pkcs8' });
    const spki = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }));
    assert.deepEqual(spki, wrapEd25519Spki(publicKeyOf(sk)));
    assert.deepEqual(spki.subarray(0, 12), ED25519_SPKI_PREFIX);
    const msg = new TextEncoder().encode('hello');
    const sig = sign(null, msg, priv);
    assert.ok(ed25519.verify(sig, msg, publicKeyOf(sk)));
  });

  it('loads from bytes (copied) and from hex in any case', () => {
    const sk = fromHex(RFC8032[0][0]);
    const copy = secretKeyFromBytes(sk);
    assert.deepEqual(copy, sk);
    assert.notEqual(copy.buffer, sk.buffer);
    assert.deepEqual(secretKeyFromHex(RFC8032[0][0].toUpperCase()), sk);
    assert.deepEqual(secretKeyFromHex(`  ${RFC8032[0][0]}\n`), sk);
  });

  it('refuses keys of the wrong length or with bad digits', () => {
    const BAD: Array<[() => unknown, RegExp]> = [
      [() => secretKeyFromBytes(new Uint8Array(31)), /expected 32 bytes, got 31/],
      [() => secretKeyFromBytes(new Uint8Array(33)), /expected 32 bytes, got 33/],
      [() => secretKeyFromHex(RFC8032[0][0].slice(2)), /expected 64 hex digits, got 62/],
      [() => secretKeyFromHex(`${RFC8032[0][0]}00`), /expected 64 hex digits, got 66/],
      [() => secretKeyFromHex(`x${RFC8032[0][0].slice(1)}`), /not a hex string/],
      [() => parseSecretKeyFile(''), /expected 64 hex digits, got 0/],
      [() => parseSecretKeyFile('-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----'), /PKCS #8/],
      [() => parseSecretKeyFile('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'), /not an Ed25519/],
    ];
    for (const [fn, re] of BAD) {
      const e = thrown(fn);
      assert.ok(e instanceof InvalidSecretKeyError, String(e));
      assert.match(e.message, re);
    }
  });

  it('key file: hex text round trip, and PKCS #8 PEM from node:crypto / OpenSSL', () => {
    const sk = generateSecretKey(new SeededRandom(9));
    const text = formatSecretKeyFile(sk);
    assert.equal(text, `${toHex(sk)}\n`);
    assert.deepEqual(parseSecretKeyFile(text), sk);
    assert.deepEqual(parseSecretKeyFile(text.toUpperCase()), sk);

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const seed = parseSecretKeyFile(pem);
    const der = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
    assert.deepEqual(der.subarray(0, 16), PKCS8_PREFIX);
    assert.deepEqual(seed, der.subarray(16));
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    assert.deepEqual(publicKeyOf(seed), spki.subarray(12));
  });
});

describe('EndpointId', () => {
  it('parses the iroh id of IROH.md in hex and prints it back', () => {
    const id = EndpointId.parse(IROH_ID);
    assert.equal(id.toString(), IROH_ID);
    assert.equal(`${id}`, IROH_ID);
    assert.equal(id.toShortString(), IROH_ID.slice(0, 10));
    assert.equal(JSON.stringify({ id }), `{"id":"${IROH_ID}"}`);
    assert.deepEqual(id.bytes, fromHex(IROH_ID));
    assert.ok(EndpointId.parse(IROH_ID.toUpperCase()).equals(id));
  });

  it('its base32 form is the id inside the iroh ticket, and parses in any case', () => {
    const id = EndpointId.parse(IROH_ID);
    const b32 = id.toBase32();
    assert.equal(b32.length, 52);
    assert.match(b32, /^[a-z2-7]{52}$/);
    // The ticket body is base32(00 ‖ id ‖ addrs): its bytes 1..33 are the id.
    const ticketId = base32Decode(IROH_TICKET.slice('endpoint'.length)).subarray(1, 33);
    assert.equal(base32Encode(ticketId), b32);
    assert.ok(EndpointId.parse(b32).equals(id));
    assert.ok(EndpointId.parse(b32.toUpperCase()).equals(id));
    assert.ok(EndpointId.parse(`${b32}\n`).equals(id));
    // Independently computed with Python's base64.b32encode.
    assert.equal(b32, 'iuncinybobwtaetiyjznmdalz63isjndnurgrydrxszkxuh4odvq');
  });

  it('fromBytes copies, equals compares', () => {
    const b = fromHex(IROH_ID);
    const id = EndpointId.fromBytes(b);
    b[0] = 0;
    assert.equal(id.toString(), IROH_ID);
    assert.ok(id.equals(EndpointId.parse(IROH_ID)));
    assert.ok(!id.equals(EndpointId.fromSecretKey(fromHex(RFC8032[0][0]))));
  });

  it('refuses ids by length, characters and curve point, with a clear message', () => {
    const notPoint = `02${'00'.repeat(31)}`; // y = 2: (y²-1)/(dy²+1) has no square root mod p
    const nonCanonical = `ed${'ff'.repeat(30)}7f`; // y = p: RFC 8032 §5.1.3 requires y < p
    const negZero = `01${'00'.repeat(30)}80`; // y = 1, x = 0 with the sign bit set
    const BAD: Array<[string, InvalidEndpointIdError['reason'], RegExp]> = [
      ['', 'length', /got 0 characters/],
      [IROH_ID.slice(2), 'length', /expected 64 hex digits or 52 base32 characters, got 62/],
      [`${IROH_ID}00`, 'length', /got 66/],
      [`g${IROH_ID.slice(1)}`, 'characters', /is not 64 hex digits/],
      ['1'.repeat(52), 'characters', /is not base32: invalid base32 character "1"/],
      [`${'a'.repeat(51)}b`, 'characters', /trailing bits/],
      [notPoint, 'point', /is not an Ed25519 public key/],
      [nonCanonical, 'point', /is not an Ed25519 public key/],
      [negZero, 'point', /is not an Ed25519 public key/],
      [base32Encode(fromHex(notPoint)), 'point', /0200000000.* is not an Ed25519 public key/],
    ];
    for (const [input, reason, re] of BAD) {
      const e = idError(() => EndpointId.parse(input));
      assert.equal(e.reason, reason, input);
      assert.match(e.message, /^invalid endpoint id: /);
      assert.match(e.message, re, input);
    }
    assert.equal(idError(() => EndpointId.fromBytes(new Uint8Array(31))).reason, 'length');
    assert.equal(idError(() => EndpointId.fromBytes(fromHex(notPoint))).reason, 'point');
  });

  it('accepts small-order points, as iroh (ed25519-dalek VerifyingKey::from_bytes) does', () => {
    // The identity point (y = 1): a valid encoding of a curve point, of order 1.
    const identity = `01${'00'.repeat(31)}`;
    assert.equal(EndpointId.parse(identity).toString(), identity);
  });

  it('property: fromBytes of random bytes agrees with @noble/curves, throwing only InvalidEndpointIdError', () => {
    const r = new SeededRandom(0x1d);
    let valid = 0;
    for (let i = 0; i < 400; i++) {
      const b = r.fill(new Uint8Array(32));
      let nobleOk = true;
      try {
        ed25519.Point.fromBytes(b);
      } catch {
        nobleOk = false;
      }
      try {
        const id = EndpointId.fromBytes(b);
        assert.ok(nobleOk);
        assert.ok(EndpointId.parse(id.toBase32()).equals(id));
        assert.ok(EndpointId.parse(id.toString()).equals(id));
        valid++;
      } catch (e) {
        assert.ok(e instanceof InvalidEndpointIdError, String(e));
        assert.equal(e.reason, 'point');
        assert.ok(!nobleOk);
      }
    }
    // About half of all 32-byte strings decode to a point.
    assert.ok(valid > 120 && valid < 280, `${valid} valid`);
  });

  it('an id derived from a key verifies that key’s signatures through node:crypto', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = parseSecretKeyFile(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    const id = EndpointId.fromSecretKey(seed);
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    assert.deepEqual(id.bytes, spki.subarray(12));
    const msg = new Uint8Array([1, 2, 3]);
    const key = createPublicKey({ key: Buffer.from(wrapEd25519Spki(id.bytes)), format: 'der', type: 'spki' });
    assert.ok(verify(null, msg, key, sign(null, msg, privateKey)));
  });
});
