import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/codec/bytes.js';
import { Writer, writeVarintAt } from '../../src/codec/writer.js';
import {
  INITIAL_SUITE,
  OneRttKeys,
  deriveDirectionalKeys,
  deriveHeaderProtectionKey,
  deriveKeyMaterial,
  initialKeys,
  initialSecrets,
  nextTrafficSecret,
  retryIntegrityTag,
  verifyRetryIntegrity,
} from '../../src/quic/crypto/index.js';
import {
  LongPacketType,
  QUIC_VERSION_1,
  encodeRetry,
  openPacket,
  parsePacketHeader,
  removeHeaderProtection,
  sealPacket,
  verifyRetry,
  writeLongHeader,
  writeShortHeader,
} from '../../src/quic/packet/index.js';
import { TLS_CHACHA20_POLY1305_SHA256, cipherSuite } from '../../src/tls/suites.js';

/** RFC 9001 Appendix A: sample packet protection, byte for byte. */

const DCID = fromHex('8394c8f03e515708');

// A.2: the CRYPTO frame of the client Initial (padded with PADDING to 1162 bytes).
const CLIENT_CRYPTO = fromHex(`
060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
0d0010000e0403050306030203080408 050806002d00020101001c0002400100
3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
75300901100f088394c8f03e51570806 048000ffff`);
const CLIENT_HEADER = fromHex('c300000001088394c8f03e5157080000449e00000002');
const CLIENT_PROTECTED = fromHex(`
c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
e221af44860018ab0856972e194cd934`);

// A.3
const SERVER_PAYLOAD = fromHex(`
02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
020304`);
const SERVER_HEADER = fromHex('c1000000010008f067a5502a4262b50040750001');
const SERVER_PROTECTED = fromHex(`
cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
2158407dd074ee`);
const SERVER_SCID = fromHex('f067a5502a4262b5');

// A.4
const RETRY = fromHex('ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba');

// A.5
const CHACHA_SECRET = fromHex('9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b');
const CHACHA_PN = 654360564;
const CHACHA_PACKET = fromHex('4cfe4189655e5cd55c41f69080575d7999c25a5bfb');

describe('RFC 9001 Appendix A: sample packet protection', () => {
  describe('A.1 Keys', () => {
    it('derives the client and server initial secrets, keys, IVs and HP keys for DCID 0x8394c8f03e515708', () => {
      const s = initialSecrets(DCID);
      assert.equal(toHex(s.client), 'c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea');
      assert.equal(toHex(s.server), '3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b');
      const c = deriveKeyMaterial(INITIAL_SUITE, s.client);
      assert.equal(toHex(c.key), '1f369613dd76d5467730efcbe3b1a22d');
      assert.equal(toHex(c.iv), 'fa044b2f42a3fd3b46fb255c');
      assert.equal(toHex(c.hp), '9f50449e04a0e810283a1e9933adedd2');
      const sv = deriveKeyMaterial(INITIAL_SUITE, s.server);
      assert.equal(toHex(sv.key), 'cf3a5331653c364c88f0f379b6067e37');
      assert.equal(toHex(sv.iv), '0ac1493ca1905853b0bba03e');
      assert.equal(toHex(sv.hp), 'c206b8d9b9f0f37644430b490eeaa314');
    });

    it('rejects an unknown version (no salt)', () => {
      assert.throws(() => initialSecrets(DCID, 0xff00001d), RangeError);
    });
  });

  describe('A.2 Client Initial', () => {
    it('computes the header protection mask from the sample', () => {
      const hp = deriveHeaderProtectionKey(INITIAL_SUITE, initialSecrets(DCID).client);
      const mask = hp.mask(fromHex('d1b1c98dd7689fb8ec11d242b123dc9b'), 0);
      assert.equal(toHex(mask.subarray(0, 5)), '437b9aec36');
    });

    it('protects the unprotected header and payload into the exact protected packet', () => {
      const buf = new Uint8Array(1200);
      const w = new Writer(buf);
      const marks = writeLongHeader(w, { type: LongPacketType.Initial, version: QUIC_VERSION_1, dcid: DCID, scid: new Uint8Array(0) }, 2, 4, 2);
      assert.equal(marks.pnOffset, 18);
      w.bytesOf(CLIENT_CRYPTO);
      w.zeros(1162 - CLIENT_CRYPTO.length); // PADDING frames
      // The writer produced exactly the RFC's unprotected header (Length patched as sealPacket will).
      const unprotected = buf.slice(0, 22);
      writeVarintAt(unprotected, marks.lengthAt, 4 + 1162 + 16, 2);
      assert.equal(toHex(unprotected), toHex(CLIENT_HEADER));
      const keys = initialKeys(DCID, true);
      const end = sealPacket(w, marks, 2, keys.write);
      assert.equal(end, 1200);
      assert.equal(toHex(buf), toHex(CLIENT_PROTECTED));
    });

    it('unprotects the protected packet back to the header and payload', () => {
      const pkt = CLIENT_PROTECTED.slice();
      const h = parsePacketHeader(pkt, 0, 8);
      assert.equal(h.kind, 'long');
      if (h.kind !== 'long') return;
      assert.equal(h.type, LongPacketType.Initial);
      assert.equal(toHex(h.dcid), toHex(DCID));
      assert.equal(h.scid.length, 0);
      assert.equal(h.token.length, 0);
      assert.equal(h.pnOffset, 18);
      assert.equal(h.end, 1200);
      const server = initialKeys(DCID, false);
      const u = removeHeaderProtection(pkt, h, server.read.header);
      assert.ok(u);
      assert.equal(toHex(pkt.subarray(0, 22)), toHex(CLIENT_HEADER));
      assert.equal(u.pnLen, 4);
      assert.equal(u.truncatedPn, 2);
      const pkt2 = CLIENT_PROTECTED.slice();
      const opened = openPacket(pkt2, h, server.read.header, server.read.packet, -1);
      assert.ok(opened);
      assert.equal(opened.pn, 2);
      assert.equal(opened.payload.length, 1162);
      assert.equal(toHex(opened.payload.subarray(0, CLIENT_CRYPTO.length)), toHex(CLIENT_CRYPTO));
      assert.ok(opened.payload.subarray(CLIENT_CRYPTO.length).every((b) => b === 0));
    });
  });

  describe('A.3 Server Initial', () => {
    it('computes the mask from the sample', () => {
      const hp = deriveHeaderProtectionKey(INITIAL_SUITE, initialSecrets(DCID).server);
      assert.equal(toHex(hp.mask(fromHex('2cd0991cd25b0aac406a5816b6394100'), 0).subarray(0, 5)), '2ec0d8356a');
    });

    it('protects into the exact protected packet', () => {
      const buf = new Uint8Array(SERVER_PROTECTED.length);
      const w = new Writer(buf);
      const marks = writeLongHeader(w, { type: LongPacketType.Initial, version: QUIC_VERSION_1, dcid: new Uint8Array(0), scid: SERVER_SCID }, 1, 2, 2);
      w.bytesOf(SERVER_PAYLOAD);
      const unprotected = buf.slice(0, SERVER_HEADER.length);
      writeVarintAt(unprotected, marks.lengthAt, 2 + SERVER_PAYLOAD.length + 16, 2);
      assert.equal(toHex(unprotected), toHex(SERVER_HEADER));
      const end = sealPacket(w, marks, 1, initialKeys(DCID, false).write);
      assert.equal(end, SERVER_PROTECTED.length);
      assert.equal(toHex(buf), toHex(SERVER_PROTECTED));
    });

    it('unprotects back to the header and payload', () => {
      const pkt = SERVER_PROTECTED.slice();
      const h = parsePacketHeader(pkt, 0, 0);
      assert.ok(h.kind === 'long');
      assert.equal(toHex(h.scid), toHex(SERVER_SCID));
      const client = initialKeys(DCID, true);
      const opened = openPacket(pkt, h, client.read.header, client.read.packet, -1);
      assert.ok(opened);
      assert.equal(opened.pn, 1);
      assert.equal(opened.pnLen, 2);
      assert.equal(toHex(pkt.subarray(0, SERVER_HEADER.length)), toHex(SERVER_HEADER));
      assert.equal(toHex(opened.payload), toHex(SERVER_PAYLOAD));
    });
  });

  describe('A.4 Retry', () => {
    it('computes the integrity tag and the exact Retry packet', () => {
      const tag = retryIntegrityTag(DCID, RETRY.subarray(0, RETRY.length - 16));
      assert.equal(toHex(tag), '04a265ba2eff4d829058fb3f0f2496ba');
      const pkt = encodeRetry(
        { version: QUIC_VERSION_1, dcid: new Uint8Array(0), scid: SERVER_SCID, token: new TextEncoder().encode('token') },
        DCID,
        0x0f,
      );
      assert.equal(toHex(pkt), toHex(RETRY));
    });

    it('verifies the tag, and rejects it for another ODCID or any flipped bit', () => {
      assert.equal(verifyRetryIntegrity(DCID, RETRY), true);
      assert.equal(verifyRetryIntegrity(fromHex('8394c8f03e515709'), RETRY), false);
      for (let i = 0; i < RETRY.length; i++) {
        const bad = RETRY.slice();
        bad[i]! ^= 0x01;
        assert.equal(verifyRetryIntegrity(DCID, bad), false, `byte ${i}`);
      }
      const h = parsePacketHeader(RETRY, 0, 0);
      assert.ok(h.kind === 'retry');
      assert.equal(new TextDecoder().decode(h.token), 'token');
      assert.equal(toHex(h.integrityTag), '04a265ba2eff4d829058fb3f0f2496ba');
      assert.equal(verifyRetry(RETRY, h, DCID), true);
    });
  });

  describe('A.5 ChaCha20-Poly1305 Short Header Packet', () => {
    const suite = cipherSuite(TLS_CHACHA20_POLY1305_SHA256);

    it('derives key, iv, hp and ku', () => {
      const m = deriveKeyMaterial(suite, CHACHA_SECRET);
      assert.equal(toHex(m.key), 'c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8');
      assert.equal(toHex(m.iv), 'e0459b3474bdd0e44a41c144');
      assert.equal(toHex(m.hp), '25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4');
      assert.equal(toHex(nextTrafficSecret(suite, CHACHA_SECRET)), '1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9');
    });

    it('computes the mask from the sample', () => {
      const hp = deriveHeaderProtectionKey(suite, CHACHA_SECRET);
      assert.equal(toHex(hp.mask(fromHex('5e5cd55c41f69080575d7999c25a5bfb'), 0).subarray(0, 5)), 'aefefe7d03');
    });

    it('protects a PING with packet number 654360564 into the exact 21-byte packet', () => {
      const buf = new Uint8Array(21);
      const w = new Writer(buf);
      const marks = writeShortHeader(w, new Uint8Array(0), CHACHA_PN, 3, 0);
      assert.equal(toHex(buf.subarray(0, 4)), '4200bff4');
      w.u8(0x01);
      const end = sealPacket(w, marks, CHACHA_PN, deriveDirectionalKeys(suite, CHACHA_SECRET));
      assert.equal(end, 21);
      assert.equal(toHex(buf), toHex(CHACHA_PACKET));
      assert.equal(toHex(buf.subarray(4)), '655e5cd55c41f69080575d7999c25a5bfb');
    });

    it('unprotects it back (also through OneRttKeys as the reader)', () => {
      const pkt = CHACHA_PACKET.slice();
      const h = parsePacketHeader(pkt, 0, 0);
      assert.ok(h.kind === 'short');
      const keys = deriveDirectionalKeys(suite, CHACHA_SECRET);
      const opened = openPacket(pkt, h, keys.header, keys.packet, CHACHA_PN - 1);
      assert.ok(opened);
      assert.equal(opened.pn, CHACHA_PN);
      assert.equal(opened.keyPhase, 0);
      assert.equal(toHex(pkt.subarray(0, 4)), '4200bff4');
      assert.equal(toHex(opened.payload), '01');

      const oneRtt = new OneRttKeys(suite, CHACHA_SECRET, CHACHA_SECRET);
      const pkt2 = CHACHA_PACKET.slice();
      const h2 = parsePacketHeader(pkt2, 0, 0);
      assert.ok(h2.kind === 'short');
      const o2 = openPacket(pkt2, h2, oneRtt.readHeader, (phase) => oneRtt.readKeyForPhase(phase), CHACHA_PN - 100);
      assert.ok(o2);
      assert.equal(o2.pn, CHACHA_PN);
    });
  });
});
