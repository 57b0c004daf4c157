import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/codec/errors.js';
import { Reader } from '../../../src/codec/reader.js';
import { Writer } from '../../../src/codec/writer.js';
import { fromHex, toHex, utf8 } from '../../../src/codec/bytes.js';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { SeededRandom } from '../../../src/tls/random.js';
import * as X from '../../../src/tls/extensions.js';
import * as M from '../../../src/tls/messages.js';

const ext = (type: number, data: Uint8Array | number[]): X.Extension => ({ type, data: Uint8Array.from(data) });
const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

interface Case {
  name: string;
  type: number;
  encoded: Uint8Array;
  decode: (body: Uint8Array) => unknown;
  value: unknown;
}

const clientHello: M.ClientHello = {
  legacyVersion: 0x0303,
  random: bytes(32, 7),
  legacySessionId: new Uint8Array(0),
  cipherSuites: [0x1301, 0x1302, 0x1303],
  compressionMethods: Uint8Array.of(0),
  extensions: [
    ext(X.ExtensionType.supported_versions, X.encodeSupportedVersionsClient([0x0304])),
    ext(X.ExtensionType.key_share, X.encodeKeyShareClient([{ group: 0x1d, keyExchange: bytes(32, 3) }])),
    ext(0xfafa, []),
  ],
};
const serverHello: M.ServerHello = {
  legacyVersion: 0x0303,
  random: bytes(32, 9),
  legacySessionIdEcho: bytes(32, 1),
  cipherSuite: 0x1302,
  compressionMethod: 0,
  extensions: [ext(X.ExtensionType.supported_versions, [3, 4])],
};
const certificate: M.Certificate = {
  context: new Uint8Array(0),
  entries: [
    { data: bytes(44, 0x30), extensions: [] },
    { data: bytes(3, 1), extensions: [ext(5, [1, 2])] },
  ],
};
const nst: M.NewSessionTicket = {
  lifetime: 86400, ageAdd: 0xfedcba98, nonce: bytes(32, 2), ticket: bytes(32, 4),
  extensions: [ext(X.ExtensionType.early_data, [0xff, 0xff, 0xff, 0xff])],
};

const CASES: Case[] = [
  { name: 'ClientHello', type: 1, encoded: M.encodeClientHello(clientHello), decode: M.decodeClientHello, value: clientHello },
  { name: 'ServerHello', type: 2, encoded: M.encodeServerHello(serverHello), decode: M.decodeServerHello, value: serverHello },
  {
    name: 'EncryptedExtensions', type: 8,
    encoded: M.encodeEncryptedExtensions({ extensions: [ext(16, [0, 3, 2, 0x68, 0x33]), ext(0x39, [1, 2, 3])] }),
    decode: M.decodeEncryptedExtensions, value: { extensions: [ext(16, [0, 3, 2, 0x68, 0x33]), ext(0x39, [1, 2, 3])] },
  },
  {
    name: 'CertificateRequest', type: 13,
    encoded: M.encodeCertificateRequest({ context: new Uint8Array(0), extensions: [ext(13, [0, 2, 8, 7])] }),
    decode: M.decodeCertificateRequest, value: { context: new Uint8Array(0), extensions: [ext(13, [0, 2, 8, 7])] },
  },
  { name: 'Certificate', type: 11, encoded: M.encodeCertificate(certificate), decode: M.decodeCertificate, value: certificate },
  {
    name: 'CertificateVerify', type: 15, encoded: M.encodeCertificateVerify({ scheme: 0x0807, signature: bytes(64, 5) }),
    decode: M.decodeCertificateVerify, value: { scheme: 0x0807, signature: bytes(64, 5) },
  },
  {
    name: 'Finished', type: 20, encoded: M.encodeFinished({ verifyData: bytes(48, 6) }),
    decode: (b) => M.decodeFinished(b, 48), value: { verifyData: bytes(48, 6) },
  },
  { name: 'NewSessionTicket', type: 4, encoded: M.encodeNewSessionTicket(nst), decode: M.decodeNewSessionTicket, value: nst },
  { name: 'KeyUpdate', type: 24, encoded: M.encodeKeyUpdate({ requestUpdate: 1 }), decode: M.decodeKeyUpdate, value: { requestUpdate: 1 } },
];

describe('TLS handshake message codecs', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it('round-trips; header type and length match the bytes written', () => {
        assert.equal(c.encoded[0], c.type);
        const len = (c.encoded[1]! << 16) | (c.encoded[2]! << 8) | c.encoded[3]!;
        assert.equal(len, c.encoded.length - 4);
        assert.deepEqual(c.decode(c.encoded.subarray(4)), c.value);
      });

      it('every truncated prefix fails with DecodeError', () => {
        const body = c.encoded.subarray(4);
        for (let n = 0; n < body.length; n++) {
          assert.throws(() => c.decode(body.subarray(0, n)), DecodeError, `${c.name} prefix ${n}`);
        }
      });

      it('trailing bytes fail with DecodeError', () => {
        const body = Uint8Array.from([...c.encoded.subarray(4), 0]);
        assert.throws(() => c.decode(body), DecodeError);
      });
    });
  }

  it('a known ServerHello parses (iroh: key_share + supported_versions, empty session id)', () => {
    const sh = fromHex(
      '0303' + '11'.repeat(32) + '00' + '1301' + '00' + '002e' +
      '0033' + '0024' + '001d' + '0020' + '22'.repeat(32) + '002b' + '0002' + '0304',
    );
    const m = M.decodeServerHello(sh);
    assert.equal(m.cipherSuite, 0x1301);
    assert.equal(m.extensions.length, 2);
    assert.deepEqual(X.decodeKeyShareServer(X.findExtension(m.extensions, 51)!), { group: 0x1d, keyExchange: bytes(32, 0x22) });
    assert.equal(M.isHelloRetryRequest(m), false);
    assert.equal(M.isHelloRetryRequest({ ...m, random: M.HELLO_RETRY_REQUEST_RANDOM }), true);
  });

  it('iroh CertificateRequest bytes from IROH.md decode', () => {
    const raw = fromHex('0d00000b0000080 00d000400020807'.replace(/\s/g, ''));
    const r = new M.HandshakeReassembler();
    r.push(raw);
    const m = r.next()!;
    assert.equal(m.type, 13);
    const cr = M.decodeCertificateRequest(m.body);
    assert.equal(cr.context.length, 0);
    assert.deepEqual(X.decodeU16List(X.findExtension(cr.extensions, 13)!), [0x0807]);
  });

  const MALFORMED: Array<[string, () => unknown, typeof DecodeError | number]> = [
    ['ClientHello session id > 32', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '21' + '00'.repeat(33) + '00021301' + '0100' + '0000')), DecodeError],
    ['ClientHello odd cipher_suites', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '00' + '0003130113' + '0100' + '0000')), DecodeError],
    ['ClientHello empty cipher_suites', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '00' + '0000' + '0100' + '0000')), DecodeError],
    ['ClientHello empty compression', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '00' + '00021301' + '00' + '0000')), DecodeError],
    ['ClientHello without extensions', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '00' + '00021301' + '0100')), DecodeError],
    ['ClientHello duplicate extension', () => M.decodeClientHello(fromHex('0303' + '00'.repeat(32) + '00' + '00021301' + '0100' + '0008' + '002b0000' + '002b0000')), Alert.illegal_parameter],
    ['extension longer than its list', () => M.decodeEncryptedExtensions(fromHex('0004' + '00100005' + '0000')), DecodeError],
    ['Certificate empty entry', () => M.decodeCertificate(fromHex('00' + '000005' + '000000' + '0000')), DecodeError],
    ['Certificate entry overruns list', () => M.decodeCertificate(fromHex('00' + '000004' + '000002' + 'aa')), DecodeError],
    ['Finished wrong length', () => M.decodeFinished(bytes(31, 0), 32), DecodeError],
    ['NewSessionTicket empty ticket', () => M.decodeNewSessionTicket(fromHex('00000001' + '00000000' + '00' + '0000' + '0000')), DecodeError],
    ['KeyUpdate value 2', () => M.decodeKeyUpdate(Uint8Array.of(2)), Alert.illegal_parameter],
    ['supported_versions odd', () => X.decodeSupportedVersionsClient(fromHex('03030403')), DecodeError],
    ['supported_versions empty', () => X.decodeSupportedVersionsClient(fromHex('00')), DecodeError],
    ['supported_groups empty', () => X.decodeU16List(fromHex('0000')), DecodeError],
    ['signature_algorithms odd', () => X.decodeU16List(fromHex('0003080708')), DecodeError],
    ['key_share entry empty key', () => X.decodeKeyShareClient(fromHex('0004001d0000')), DecodeError],
    ['key_share entry truncated', () => X.decodeKeyShareClient(fromHex('0005001d000301')), DecodeError],
    ['server key_share trailing', () => X.decodeKeyShareServer(fromHex('001d000101ff')), DecodeError],
    ['HRR key_share 3 bytes', () => X.decodeKeyShareHrr(fromHex('001d00')), DecodeError],
    ['ALPN empty list', () => X.decodeAlpn(fromHex('0000')), DecodeError],
    ['ALPN empty name', () => X.decodeAlpn(fromHex('000100')), DecodeError],
    ['ALPN name overruns', () => X.decodeAlpn(fromHex('00020561')), DecodeError],
    ['server_name empty list', () => X.decodeServerName(fromHex('0000')), DecodeError],
    ['server_name empty host', () => X.decodeServerName(fromHex('0003000000')), DecodeError],
    ['server_name two hosts', () => X.decodeServerName(fromHex('000800000161' + '00000162')), DecodeError],
    ['cert types empty', () => X.decodeCertTypesClient(fromHex('00')), DecodeError],
    ['cert type (server) two bytes', () => X.decodeCertTypeServer(fromHex('0202')), DecodeError],
    ['psk modes empty', () => X.decodePskModes(fromHex('00')), DecodeError],
    ['cookie empty', () => X.decodeCookie(fromHex('0000')), DecodeError],
    ['cookie overruns', () => X.decodeCookie(fromHex('000301')), DecodeError],
  ];

  describe('malformed inputs and the error each must produce', () => {
    for (const [name, fn, want] of MALFORMED) {
      it(name, () => {
        if (typeof want === 'number') assert.throws(fn, (e: unknown) => e instanceof TlsAlert && e.alert === want);
        else assert.throws(fn, want);
      });
    }
  });
});

describe('TLS extension codecs', () => {
  const ROUND: Array<[string, () => Uint8Array, (b: Uint8Array) => unknown, unknown]> = [
    ['supported_versions (client)', () => X.encodeSupportedVersionsClient([0x0304, 0x0303]), X.decodeSupportedVersionsClient, [0x0304, 0x0303]],
    ['supported_versions (server)', () => X.encodeSupportedVersionsServer(0x0304), X.decodeSupportedVersionsServer, 0x0304],
    ['supported_groups', () => X.encodeU16List([0x1d, 0x17, 0x18]), (b) => X.decodeU16List(b), [0x1d, 0x17, 0x18]],
    ['key_share (client)', () => X.encodeKeyShareClient([{ group: 0x1d, keyExchange: bytes(32, 1) }, { group: 0x17, keyExchange: bytes(65, 4) }]),
      X.decodeKeyShareClient, [{ group: 0x1d, keyExchange: bytes(32, 1) }, { group: 0x17, keyExchange: bytes(65, 4) }]],
    ['key_share (client, empty)', () => X.encodeKeyShareClient([]), X.decodeKeyShareClient, []],
    ['key_share (server)', () => X.encodeKeyShareServer({ group: 0x1d, keyExchange: bytes(32, 2) }), X.decodeKeyShareServer, { group: 0x1d, keyExchange: bytes(32, 2) }],
    ['key_share (HRR)', () => X.encodeKeyShareHrr(0x1d), X.decodeKeyShareHrr, 0x1d],
    ['ALPN', () => X.encodeAlpn([utf8('h3'), utf8('iroh-http/2')]), X.decodeAlpn, [utf8('h3'), utf8('iroh-http/2')]],
    ['server_name', () => X.encodeServerName(utf8('abc.iroh.invalid')), X.decodeServerName, utf8('abc.iroh.invalid')],
    ['cert types (client)', () => X.encodeCertTypesClient([2, 0]), X.decodeCertTypesClient, [2, 0]],
    ['cert type (server)', () => X.encodeCertTypeServer(2), X.decodeCertTypeServer, 2],
    ['psk modes', () => X.encodePskModes([1]), X.decodePskModes, [1]],
    ['cookie', () => X.encodeCookie(bytes(5, 9)), X.decodeCookie, bytes(5, 9)],
  ];
  for (const [name, enc, dec, value] of ROUND) {
    it(`${name}: round trip, every truncated prefix fails`, () => {
      const b = enc();
      assert.deepEqual(dec(b), value);
      for (let n = 0; n < b.length; n++) {
        // An empty server_name body is the server's echo, which decodes to "no name".
        if (name === 'server_name' && n === 0) continue;
        // An empty client key_share list is valid (asks for HelloRetryRequest), so only the
        // 1-byte prefix and partial entries are truncations there.
        assert.throws(() => dec(b.subarray(0, n)), DecodeError, `${name} prefix ${n}`);
      }
    });
  }

  it('the empty server_name of EncryptedExtensions decodes to undefined', () => {
    assert.equal(X.decodeServerName(new Uint8Array(0)), undefined);
  });

  it('readExtensions/writeExtensions round trip and duplicate detection', () => {
    const list = [ext(0, []), ext(0x39, [1, 2, 3]), ext(0xffff, bytes(300, 1))];
    const w = Writer.growable();
    X.writeExtensions(w, list);
    assert.equal(w.pos, 2 + list.reduce((n, e) => n + 4 + e.data.length, 0));
    assert.deepEqual(X.readExtensions(new Reader(w.bytes())), list);
    assert.throws(
      () => X.readExtensions(new Reader(fromHex('0008' + '00390000' + '00390000'))),
      (e: unknown) => e instanceof TlsAlert && e.alert === Alert.illegal_parameter,
    );
  });
});

describe('HandshakeReassembler', () => {
  const a = M.encodeFinished({ verifyData: bytes(32, 1) });
  const b = M.encodeCertificateVerify({ scheme: 0x0807, signature: bytes(64, 2) });

  it('splits, merges and hands out copies', () => {
    const r = new M.HandshakeReassembler();
    const both = Uint8Array.from([...a, ...b]);
    for (const cut of [0, 1, 3, 4, 5, a.length, a.length + 3, both.length]) {
      r.push(both.subarray(0, cut));
      const out: M.RawHandshake[] = [];
      for (let m = r.next(); m; m = r.next()) out.push(m);
      const src = both.slice(cut);
      r.push(src);
      src.fill(0);
      for (let m = r.next(); m; m = r.next()) out.push(m);
      assert.deepEqual(out.map((m) => toHex(m.raw)), [toHex(a), toHex(b)], `cut ${cut}`);
      assert.equal(out[1]!.type, 15);
      assert.equal(r.buffered, 0);
    }
  });

  it('refuses a header announcing more than the limit', () => {
    const r = new M.HandshakeReassembler(1000);
    r.push(Uint8Array.of(11, 0, 0x03, 0xe9));
    assert.throws(() => r.next(), (e: unknown) => e instanceof TlsAlert && e.alert === Alert.decode_error);
    const ok = new M.HandshakeReassembler(1000);
    ok.push(Uint8Array.of(11, 0, 0x03, 0xe8));
    assert.equal(ok.next(), undefined);
    assert.equal(ok.buffered, 4);
  });
});

describe('TLS codecs: property test over random bytes', () => {
  it('decoders only throw DecodeError or TlsAlert', () => {
    const rnd = new SeededRandom(0xc0dec);
    const decoders: Array<(b: Uint8Array) => unknown> = [
      ...CASES.map((c) => c.decode),
      M.decodeClientHello, X.decodeAlpn, X.decodeKeyShareClient, X.decodeKeyShareServer, X.decodeServerName,
      X.decodeCertTypesClient, X.decodeSupportedVersionsClient, X.decodeU16List, X.decodeCookie, X.decodePskModes,
      (b) => X.readExtensions(new Reader(b)),
    ];
    let ok = 0;
    for (let i = 0; i < 4000; i++) {
      const dec = decoders[i % decoders.length]!;
      let input: Uint8Array;
      if (rnd.int(2) === 0) {
        // Mutate a valid encoding so the fuzzing reaches deep into the structure.
        const c = CASES[rnd.int(CASES.length)]!;
        input = c.encoded.slice(4);
        for (let k = 0; k <= rnd.int(3); k++) if (input.length) input[rnd.int(input.length)] = rnd.nextU32() & 0xff;
      } else {
        input = rnd.fill(new Uint8Array(rnd.int(80)));
      }
      try {
        dec(input);
        ok++;
      } catch (e) {
        assert.ok(e instanceof DecodeError || e instanceof TlsAlert, `unexpected ${String(e)}`);
      }
    }
    assert.ok(ok > 0);
  });
});

