import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { x25519KeyPair, x25519SharedSecret } from '../../../src/tls/crypto.js';
import { hkdfExpand, hkdfExpandLabel, hkdfExtract } from '../../../src/tls/hkdf.js';
import {
  applicationTrafficSecrets,
  earlySecret,
  finishedKey,
  finishedVerifyData,
  handshakeSecret,
  handshakeTrafficSecrets,
  masterSecret,
  Transcript,
  verifyFinished,
} from '../../../src/tls/key-schedule.js';
import { SeededRandom } from '../../../src/tls/random.js';
import type { HashName } from '../../../src/tls/suites.js';

/**
 * RFC 8448 §3 "Simple 1-RTT Handshake" (X25519, TLS_AES_128_GCM_SHA256): the published
 * intermediate values. The transcript hashes are inputs taken from the trace; every other value
 * is derived and compared.
 */
const RFC8448 = {
  clientPrivate: '49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005',
  clientPublic: '99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c',
  serverPrivate: 'b1580eeadf6dd589b8ef4f2d5652578cc810e9980191ec8d058308cea216a21e',
  serverPublic: 'c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f',
  sharedSecret: '8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d',
  earlySecret: '33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a',
  handshakeSecret: '1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac',
  hashChSh: '860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8',
  clientHsTraffic: 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21',
  serverHsTraffic: 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38',
  serverHsKey: '3fce516009c21727d0f2e4e86ee403bc',
  serverHsIv: '5d313eb2671276ee13000b30',
  masterSecret: '18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919',
  hashChSf: '9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13',
  clientApTraffic: '9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5',
  serverApTraffic: 'a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643',
  serverFinishedKey: '008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8',
  clientFinishedKey: 'b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4',
  hashChCv: 'edb7725fa7a3473b031ec8ef65a2485493900138a2b91291407d7951a06110ed',
  serverVerifyData: '9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718',
};

describe('TLS 1.3 key schedule', () => {
  it('RFC 8448 §3: X25519 shared secret', () => {
    const c = x25519KeyPair(fromHex(RFC8448.clientPrivate));
    const s = x25519KeyPair(fromHex(RFC8448.serverPrivate));
    assert.equal(toHex(c.publicKey), RFC8448.clientPublic);
    assert.equal(toHex(s.publicKey), RFC8448.serverPublic);
    assert.equal(toHex(x25519SharedSecret(c, s.publicKey)), RFC8448.sharedSecret);
    assert.equal(toHex(x25519SharedSecret(s, c.publicKey)), RFC8448.sharedSecret);
  });

  it('RFC 8448 §3: early, handshake and master secrets, traffic secrets, finished keys', () => {
    const h = 'sha256';
    const early = earlySecret(h);
    assert.equal(toHex(early), RFC8448.earlySecret);
    const hs = handshakeSecret(h, early, fromHex(RFC8448.sharedSecret));
    assert.equal(toHex(hs), RFC8448.handshakeSecret);
    const hts = handshakeTrafficSecrets(h, hs, fromHex(RFC8448.hashChSh));
    assert.equal(toHex(hts.client), RFC8448.clientHsTraffic);
    assert.equal(toHex(hts.server), RFC8448.serverHsTraffic);
    assert.equal(toHex(hkdfExpandLabel(h, hts.server, 'key', new Uint8Array(0), 16)), RFC8448.serverHsKey);
    assert.equal(toHex(hkdfExpandLabel(h, hts.server, 'iv', new Uint8Array(0), 12)), RFC8448.serverHsIv);
    const master = masterSecret(h, hs);
    assert.equal(toHex(master), RFC8448.masterSecret);
    const ats = applicationTrafficSecrets(h, master, fromHex(RFC8448.hashChSf));
    assert.equal(toHex(ats.client), RFC8448.clientApTraffic);
    assert.equal(toHex(ats.server), RFC8448.serverApTraffic);
    assert.equal(toHex(finishedKey(h, hts.server)), RFC8448.serverFinishedKey);
    assert.equal(toHex(finishedKey(h, hts.client)), RFC8448.clientFinishedKey);
    const vd = finishedVerifyData(h, hts.server, fromHex(RFC8448.hashChCv));
    assert.equal(toHex(vd), RFC8448.serverVerifyData);
    assert.ok(verifyFinished(h, hts.server, fromHex(RFC8448.hashChCv), vd));
    const bad = vd.slice();
    bad[31]! ^= 1;
    assert.ok(!verifyFinished(h, hts.server, fromHex(RFC8448.hashChCv), bad));
    assert.ok(!verifyFinished(h, hts.server, fromHex(RFC8448.hashChCv), vd.subarray(0, 31)));
  });

  for (const hash of ['sha256', 'sha384'] as const) {
    it(`agrees with an independent node:crypto computation (${hash}, seeded inputs)`, () => {
      const rnd = new SeededRandom(hash === 'sha256' ? 1 : 2);
      const len = hash === 'sha256' ? 32 : 48;
      for (let i = 0; i < 20; i++) {
        const shared = rnd.fill(new Uint8Array(32));
        const th1 = rnd.fill(new Uint8Array(len));
        const th2 = rnd.fill(new Uint8Array(len));
        const early = earlySecret(hash);
        const hs = handshakeSecret(hash, early, shared);
        const hts = handshakeTrafficSecrets(hash, hs, th1);
        const ms = masterSecret(hash, hs);
        const ats = applicationTrafficSecrets(hash, ms, th2);

        const rEarly = extract(hash, new Uint8Array(len), new Uint8Array(len));
        const rHs = extract(hash, refDerive(hash, rEarly, 'derived', emptyHash(hash)), shared);
        const rMs = extract(hash, refDerive(hash, rHs, 'derived', emptyHash(hash)), new Uint8Array(len));
        assert.equal(toHex(early), toHex(rEarly));
        assert.equal(toHex(hs), toHex(rHs));
        assert.equal(toHex(ms), toHex(rMs));
        assert.equal(toHex(hts.client), toHex(refDerive(hash, rHs, 'c hs traffic', th1)));
        assert.equal(toHex(hts.server), toHex(refDerive(hash, rHs, 's hs traffic', th1)));
        assert.equal(toHex(ats.client), toHex(refDerive(hash, rMs, 'c ap traffic', th2)));
        assert.equal(toHex(ats.server), toHex(refDerive(hash, rMs, 's ap traffic', th2)));
        const fk = refExpandLabel(hash, hts.server, 'finished', new Uint8Array(0), len);
        assert.equal(toHex(finishedKey(hash, hts.server)), toHex(fk));
        const vd = createHmac(hash, fk).update(th2).digest();
        assert.equal(toHex(finishedVerifyData(hash, hts.server, th2)), vd.toString('hex'));
      }
    });
  }

  it('transcript: holds messages until the hash is selected, then hashes them', () => {
    const t = new Transcript();
    const a = Uint8Array.of(1, 0, 0, 1, 9);
    const b = Uint8Array.of(2, 0, 0, 2, 7, 7);
    t.add(a);
    assert.throws(() => t.digest());
    t.selectHash('sha384');
    t.add(b);
    assert.equal(toHex(t.digest()), createHash('sha384').update(a).update(b).digest('hex'));
    // digest() does not finalise.
    assert.equal(toHex(t.digest()), createHash('sha384').update(a).update(b).digest('hex'));
  });

  it('transcript: HelloRetryRequest replaces ClientHello1 by message_hash (RFC 9846 §4.4.1)', () => {
    const ch1 = Uint8Array.of(1, 0, 0, 3, 1, 2, 3);
    const hrr = Uint8Array.of(2, 0, 0, 1, 5);
    for (const hash of ['sha256', 'sha384'] as const) {
      const t = new Transcript();
      t.add(ch1);
      t.selectHash(hash);
      t.replaceWithMessageHash();
      t.add(hrr);
      const h1 = createHash(hash).update(ch1).digest();
      const synthetic = Buffer.concat([Buffer.from([254, 0, 0, h1.length]), h1]);
      assert.equal(toHex(t.digest()), createHash(hash).update(synthetic).update(hrr).digest('hex'));
    }
  });
});

// --- independent reference: node:crypto HKDF/HMAC ------------------------------------------------

function extract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(hash, salt).update(ikm).digest());
}

function refExpandLabel(hash: HashName, secret: Uint8Array, label: string, ctx: Uint8Array, len: number): Uint8Array {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = Buffer.concat([Buffer.from([len >> 8, len & 0xff, full.length]), full, Buffer.from([ctx.length]), ctx]);
  // hkdfSync with an empty salt/ikm would re-extract; expand alone is HMAC chaining:
  const out: Buffer[] = [];
  let prev = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < len; i++) {
    prev = createHmac(hash, secret).update(Buffer.concat([prev, info, Buffer.from([i])])).digest();
    out.push(prev);
  }
  return new Uint8Array(Buffer.concat(out).subarray(0, len));
}

function refDerive(hash: HashName, secret: Uint8Array, label: string, th: Uint8Array): Uint8Array {
  return refExpandLabel(hash, secret, label, th, hash === 'sha256' ? 32 : 48);
}

function emptyHash(hash: HashName): Uint8Array {
  return new Uint8Array(createHash(hash).digest());
}

// node:crypto's HKDF (extract + expand in one) must agree with the two-step reference.
describe('reference HKDF sanity', () => {
  it('hkdfSync == HMAC extract + expand', () => {
    const salt = Uint8Array.of(1, 2, 3);
    const ikm = Uint8Array.of(4, 5, 6);
    const info = Uint8Array.of(7);
    const prk = extract('sha256', salt, ikm);
    const viaNode = new Uint8Array(hkdfSync('sha256', ikm, salt, info, 42));
    const t1 = createHmac('sha256', prk).update(Buffer.from([7, 1])).digest();
    const t2 = createHmac('sha256', prk).update(Buffer.concat([t1, Buffer.from([7, 2])])).digest();
    assert.equal(toHex(viaNode), toHex(Buffer.concat([t1, t2]).subarray(0, 42)));
  });

  it('HKDF matches RFC 5869 test cases 1 and 3 (multi-block expand, empty salt and info)', () => {
    const ikm = new Uint8Array(22).fill(0x0b);
    const prk1 = hkdfExtract('sha256', fromHex('000102030405060708090a0b0c'), ikm);
    assert.equal(toHex(prk1), '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    assert.equal(
      toHex(hkdfExpand('sha256', prk1, fromHex('f0f1f2f3f4f5f6f7f8f9'), 42)),
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    const prk3 = hkdfExtract('sha256', new Uint8Array(0), ikm);
    assert.equal(toHex(prk3), '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04');
    assert.equal(
      toHex(hkdfExpand('sha256', prk3, new Uint8Array(0), 42)),
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
    assert.throws(() => hkdfExpand('sha256', prk3, new Uint8Array(0), 255 * 32 + 1), RangeError);
  });
});
