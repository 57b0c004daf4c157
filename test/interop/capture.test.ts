import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from '../../src/quic/codec/reader.js';
import { hkdfExpandLabel, hkdfExtract } from '../../src/tls/hkdf.js';
import { repoRoot } from './iroh.js';

/**
 * test/fixtures/iroh-capture.json: the first UDP datagrams between two real iroh 1.0.2 endpoints,
 * recorded by test/interop/iroh-capture.cjs (a UDP relay inside a loopback-only namespace). There
 * is no keylog in @number0/iroh, but Initial packets are protected with keys derived from the
 * client's first Destination Connection ID (RFC 9001 §5.2), so they can be opened. This test opens
 * them with a small independent implementation (node:crypto AES, not the quic-peer code), so the
 * fixture can later serve as a real-iroh oracle for the packet protection and TLS code.
 */
interface Capture {
  alpn: string;
  server: { id: string; secretKey: string };
  client: { id: string; secretKey: string };
  datagrams: Array<{ dir: 'c2s' | 's2c'; n: number; len: number; hex: string }>;
}

const capture = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'iroh-capture.json'), 'utf8')) as Capture;
const datagram = (dir: 'c2s' | 's2c', n: number): Uint8Array => {
  const d = capture.datagrams.find((x) => x.dir === dir && x.n === n);
  if (d === undefined) throw new Error(`no ${dir} datagram ${n} in the fixture`);
  const b = Buffer.from(d.hex, 'hex');
  assert.equal(b.length, d.len);
  return b;
};

// RFC 9001 §5.2: the QUIC v1 Initial salt.
const INITIAL_SALT = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');

interface Opened {
  type: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  pn: number;
  payload: Uint8Array;
  /** Bytes of the datagram after this packet (coalesced packets). */
  next: number;
}

/** Opens the long-header Initial packet at `at` (RFC 9000 §17.2.2, RFC 9001 §5.3-5.4). */
function openInitial(dgram: Uint8Array, at: number, secret: Uint8Array): Opened {
  const r = new Reader(dgram, at);
  const b0 = r.u8();
  assert.equal(b0 & 0xc0, 0xc0, 'long header with the fixed bit');
  assert.equal(r.u32(), 1, 'QUIC v1');
  const type = (b0 & 0x30) >> 4;
  const dcid = r.vec8();
  const scid = r.vec8();
  assert.equal(type, 0, 'Initial');
  r.bytes(r.varint()); // token
  const length = r.varint();
  const pnOffset = dgram.length - r.remaining;
  const key = hkdfExpandLabel('sha256', secret, 'quic key', new Uint8Array(0), 16);
  const iv = hkdfExpandLabel('sha256', secret, 'quic iv', new Uint8Array(0), 12);
  const hp = hkdfExpandLabel('sha256', secret, 'quic hp', new Uint8Array(0), 16);
  // RFC 9001 §5.4.2: the sample starts 4 bytes after the start of the packet number field.
  const sample = dgram.subarray(pnOffset + 4, pnOffset + 20);
  const mask = createCipheriv('aes-128-ecb', hp, null).update(sample);
  const header = Buffer.from(dgram.subarray(at, pnOffset + 4));
  header[0] = (header[0] as number) ^ ((mask[0] as number) & 0x0f);
  const pnLen = ((header[0] as number) & 0x03) + 1;
  let pn = 0;
  for (let i = 0; i < pnLen; i++) {
    const j = pnOffset - at + i;
    header[j] = (header[j] as number) ^ (mask[1 + i] as number);
    pn = pn * 256 + (header[j] as number);
  }
  const aad = header.subarray(0, pnOffset - at + pnLen);
  const nonce = Buffer.from(iv);
  for (let i = 0; i < 8; i++) nonce[11 - i] = (nonce[11 - i] as number) ^ (Math.floor(pn / 2 ** (8 * i)) & 0xff);
  const end = pnOffset + length;
  const body = dgram.subarray(pnOffset + pnLen, end - 16);
  const d = createDecipheriv('aes-128-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(dgram.subarray(end - 16, end));
  const payload = Buffer.concat([d.update(body), d.final()]);
  return { type, dcid, scid, pn, payload, next: end };
}

/** The CRYPTO frame data at offset 0 in an Initial payload (skips PADDING, PING and ACK). */
function cryptoAtZero(payload: Uint8Array): Uint8Array {
  const r = new Reader(payload);
  while (!r.atEnd) {
    const t = r.varint();
    if (t === 0x00 || t === 0x01) continue; // PADDING, PING
    if (t === 0x02 || t === 0x03) {
      // RFC 9000 §19.3: largest, delay, range count, first range, ranges, [ECN counts]
      r.varint();
      r.varint();
      const n = r.varint();
      r.varint();
      for (let i = 0; i < 2 * n; i++) r.varint();
      if (t === 0x03) for (let i = 0; i < 3; i++) r.varint();
      continue;
    }
    if (t === 0x06) {
      const off = r.varint();
      const data = r.bytes(r.varint());
      if (off === 0) return data;
      continue;
    }
    throw new Error(`unexpected frame type ${t} in an Initial`);
  }
  throw new Error('no CRYPTO frame at offset 0');
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? '(absent)' : Buffer.from(b).toString('hex'));

/** Session id and extensions of a ClientHello (type 1) or ServerHello (type 2), RFC 9846 §4.1.2-4.1.3. */
function helloExtensions(msg: Uint8Array, type: number): { sessionId: Uint8Array; ext: Map<number, Uint8Array> } {
  const r = new Reader(msg);
  assert.equal(r.u8(), type);
  const body = r.sub24();
  body.u16(); // legacy_version
  body.bytes(32); // random
  const sessionId = body.vec8();
  if (type === 0x01) {
    body.vec16(); // cipher_suites
    body.vec8(); // legacy_compression_methods
  } else {
    body.u16(); // cipher_suite
    body.u8(); // legacy_compression_method
  }
  const exts = body.sub16();
  const ext = new Map<number, Uint8Array>();
  while (!exts.atEnd) {
    const t = exts.u16();
    ext.set(t, exts.vec16());
  }
  return { sessionId, ext };
}

describe('interop fixture: captured iroh <-> iroh datagrams (iroh-capture.json)', () => {
  const c1 = datagram('c2s', 1);
  const s1 = datagram('s2c', 1);
  const clientDcid = (() => {
    const r = new Reader(c1, 5);
    return r.vec8();
  })();
  const initialSecret = hkdfExtract('sha256', INITIAL_SALT, clientDcid);
  const clientSecret = hkdfExpandLabel('sha256', initialSecret, 'client in', new Uint8Array(0), 32);
  const serverSecret = hkdfExpandLabel('sha256', initialSecret, 'server in', new Uint8Array(0), 32);

  it('starts with a padded client Initial with a 20-byte DCID and an 8-byte SCID (IROH.md)', () => {
    assert.ok(c1.length >= 1200, `client Initial datagram is ${c1.length} bytes`);
    const p = openInitial(c1, 0, clientSecret);
    assert.equal(p.dcid.length, 20);
    assert.equal(p.scid.length, 8);
    assert.equal(p.pn, 0);
  });

  it("the client Initial carries iroh's ClientHello: RPK both ways, the ALPN, transport parameters", () => {
    const ch = helloExtensions(cryptoAtZero(openInitial(c1, 0, clientSecret).payload), 0x01);
    assert.equal(ch.sessionId.length, 0, 'no middlebox compatibility mode (RFC 9001 §8.4)');
    // RFC 7250: client_certificate_type (19) and server_certificate_type (20) = [RawPublicKey (2)].
    assert.equal(hex(ch.ext.get(19)), '0102');
    assert.equal(hex(ch.ext.get(20)), '0102');
    const alpn = Buffer.from(capture.alpn);
    assert.equal(hex(ch.ext.get(16)), hex(Buffer.concat([Buffer.from([0, alpn.length + 1, alpn.length]), alpn])));
    assert.ok(ch.ext.has(0x39), 'quic_transport_parameters (0x39)');
    assert.ok(ch.ext.has(45), 'psk_key_exchange_modes');
  });

  it('the ServerHello carries only key_share and supported_versions, with an empty session id echo', () => {
    const sh = helloExtensions(cryptoAtZero(openInitial(s1, 0, serverSecret).payload), 0x02);
    assert.equal(sh.sessionId.length, 0);
    assert.deepEqual([...sh.ext.keys()].sort((a, b) => a - b), [43, 51]);
    assert.equal(hex(sh.ext.get(43)), '0304', 'TLS 1.3');
  });

  it("the server's first datagram is 1200 bytes: an Initial with the ServerHello, then a Handshake packet", () => {
    assert.equal(s1.length, 1200);
    const clientScid = openInitial(c1, 0, clientSecret).scid;
    const p = openInitial(s1, 0, serverSecret);
    assert.deepEqual(Buffer.from(p.dcid), Buffer.from(clientScid), "the server answers to the client's SCID");
    assert.equal(p.scid.length, 8);
    assert.equal(cryptoAtZero(p.payload)[0], 0x02, 'ServerHello');
    // Coalesced after it: a long-header Handshake packet (type 2) filling the datagram.
    assert.ok(p.next < s1.length);
    const b0 = s1[p.next] as number;
    assert.equal(b0 & 0xc0, 0xc0);
    assert.equal((b0 & 0x30) >> 4, 2, 'Handshake');
  });

  it('a flipped ciphertext bit makes the Initial fail to open (the oracle is not vacuous)', () => {
    const bad = Buffer.from(c1);
    bad[100] = (bad[100] as number) ^ 0x01;
    assert.throws(() => openInitial(bad, 0, clientSecret), /auth|Unsupported state/);
  });

  it('records the identities used (secret keys and ids)', () => {
    assert.match(capture.server.secretKey, /^[0-9a-f]{64}$/);
    assert.match(capture.client.secretKey, /^[0-9a-f]{64}$/);
    assert.match(capture.server.id, /^[0-9a-f]{64}$/);
    assert.match(capture.client.id, /^[0-9a-f]{64}$/);
  });
});
