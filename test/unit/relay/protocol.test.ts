import assert from 'node:assert/strict';
import fc from 'fast-check';
import { blake3 } from '@noble/hashes/blake3.js';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { publicKeyOf } from '../../../src/tls/identity.js';
import {
  MAX_BATCH_CONTENTS,
  MAX_FRAME_SIZE,
  MAX_PACKET_SIZE,
  RelayProtocolError,
  challengeMessage,
  decodeClientToRelay,
  decodeHandshake,
  decodeRelayToClient,
  encodeClientToRelay,
  encodeHandshake,
  encodeRelayToClient,
  keyMaterialAuthHeader,
  packDatagrams,
  signChallenge,
  sizeClientToRelay,
  sizeRelayToClient,
  splitDatagrams,
  verifyChallenge,
  verifyKeyMaterialAuthHeader,
  type ClientToRelayMsg,
  type HandshakeMsg,
  type RelayToClientMsg,
} from '../../../src/relay/protocol.js';

const hex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// iroh-relay 1.0.2 protos/relay.rs, test_relay_client_frames_snapshot / test_client_relay_frames_snapshot:
// SecretKey::from_bytes(&[42u8; 32]).public() and the frames built from it.
const KEY42 = publicKeyOf(new Uint8Array(32).fill(42));
const KEY42_HEX = '197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RelayProtocolError, `expected RelayProtocolError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('did not throw');
}

describe('relay protocol codec (iroh-relay protos)', () => {
  it('the [42; 32] key is the one of iroh`s snapshots', () => {
    assert.equal(toHex(KEY42), KEY42_HEX);
  });

  it('encodes iroh`s relay-to-client snapshot frames byte for byte', () => {
    const hello = text('Hello World!');
    const cases: Array<[RelayToClientMsg, string]> = [
      [{ type: 'health', problem: 'Hello? Yes this is dog.' }, '0b 48656c6c6f3f20596573207468697320697320646f672e'],
      [{ type: 'endpointGone', id: KEY42 }, `08 ${KEY42_HEX}`],
      [{ type: 'ping', data: new Uint8Array(8).fill(42) }, '09 2a2a2a2a2a2a2a2a'],
      [{ type: 'pong', data: new Uint8Array(8).fill(42) }, '0a 2a2a2a2a2a2a2a2a'],
      [{ type: 'datagrams', src: KEY42, datagrams: { ecn: 3, segmentSize: 6, contents: hello } }, `07 ${KEY42_HEX} 03 0006 48656c6c6f20576f726c6421`],
      [{ type: 'datagrams', src: KEY42, datagrams: { ecn: 3, segmentSize: 0, contents: hello } }, `06 ${KEY42_HEX} 03 48656c6c6f20576f726c6421`],
      [{ type: 'restarting', reconnectInMs: 10, tryForMs: 20 }, '0c 0000000a 00000014'],
      [{ type: 'status', status: 1 }, '0d 01'],
      [{ type: 'status', status: 2 }, '0d 02'],
    ];
    for (const [msg, expected] of cases) {
      const bytes = encodeRelayToClient(msg);
      assert.equal(toHex(bytes), toHex(hex(expected)), msg.type);
      assert.equal(sizeRelayToClient(msg), bytes.length);
      const version = msg.type === 'health' ? 1 : 2;
      assert.deepEqual(normalize(decodeRelayToClient(bytes, version)), normalize(msg));
    }
  });

  it('encodes iroh`s client-to-relay snapshot frames byte for byte', () => {
    const hello = text('Hello World!');
    const cases: Array<[ClientToRelayMsg, string]> = [
      [{ type: 'ping', data: new Uint8Array(8).fill(42) }, '09 2a2a2a2a2a2a2a2a'],
      [{ type: 'pong', data: new Uint8Array(8).fill(42) }, '0a 2a2a2a2a2a2a2a2a'],
      [{ type: 'datagrams', dst: KEY42, datagrams: { ecn: 3, segmentSize: 6, contents: hello } }, `05 ${KEY42_HEX} 03 0006 48656c6c6f20576f726c6421`],
      [{ type: 'datagrams', dst: KEY42, datagrams: { ecn: 3, segmentSize: 0, contents: hello } }, `04 ${KEY42_HEX} 03 48656c6c6f20576f726c6421`],
    ];
    for (const [msg, expected] of cases) {
      const bytes = encodeClientToRelay(msg);
      assert.equal(toHex(bytes), toHex(hex(expected)), msg.type);
      assert.equal(sizeClientToRelay(msg), bytes.length);
      assert.deepEqual(normalize(decodeClientToRelay(bytes)), normalize(msg));
    }
  });

  it('every truncated prefix of every frame fails with a RelayProtocolError', () => {
    const frames = [
      encodeRelayToClient({ type: 'endpointGone', id: KEY42 }),
      encodeRelayToClient({ type: 'restarting', reconnectInMs: 1, tryForMs: 2 }),
      encodeRelayToClient({ type: 'ping', data: new Uint8Array(8) }),
      encodeRelayToClient({ type: 'datagrams', src: KEY42, datagrams: { ecn: 0, segmentSize: 4, contents: new Uint8Array(10) } }),
      encodeRelayToClient({ type: 'status', status: 0 }),
    ];
    for (const f of frames) {
      for (let n = 0; n < f.length; n++) {
        const prefix = f.subarray(0, n);
        // A datagram frame cut inside its contents is still a (shorter) valid frame.
        if ((f[0] === 6 || f[0] === 7) && n >= 1 + 32 + 3) continue;
        assert.throws(() => decodeRelayToClient(prefix), RelayProtocolError, `type ${f[0]} cut at ${n}`);
      }
    }
    const c = encodeClientToRelay({ type: 'datagrams', dst: KEY42, datagrams: { ecn: 0, segmentSize: 2, contents: new Uint8Array(3) } });
    for (let n = 0; n < 1 + 32 + 3; n++) assert.throws(() => decodeClientToRelay(c.subarray(0, n)), RelayProtocolError);
  });

  it('a table of malformed frames and the error each produces', () => {
    const cases: Array<[string, () => unknown, string]> = [
      ['empty message', () => decodeClientToRelay(new Uint8Array(0)), 'truncated'],
      ['truncated 2-byte varint type', () => decodeClientToRelay(hex('40')), 'truncated'],
      ['unknown type 14', () => decodeClientToRelay(hex('0e')), 'unknown-type'],
      ['unknown type 2^30 (long varint)', () => decodeRelayToClient(hex('c000000040000000')), 'unknown-type'],
      ['relay frame from a client', () => decodeClientToRelay(encodeRelayToClient({ type: 'endpointGone', id: KEY42 })), 'unexpected-type'],
      ['client frame from a relay', () => decodeRelayToClient(hex(`04 ${KEY42_HEX} 00`)), 'unexpected-type'],
      ['handshake frame after the handshake', () => decodeClientToRelay(hex('02')), 'unexpected-type'],
      ['Ping of 9 bytes', () => decodeClientToRelay(hex('09 000000000000000000')), 'invalid'],
      ['Pong of 7 bytes', () => decodeRelayToClient(hex('0a 00000000000000')), 'truncated'],
      ['EndpointGone with a trailing byte', () => decodeRelayToClient(hex(`08 ${KEY42_HEX} 00`)), 'invalid'],
      ['Restarting of 9 bytes', () => decodeRelayToClient(hex('0c 000000000000000000')), 'invalid'],
      ['empty Status', () => decodeRelayToClient(hex('0d')), 'invalid'],
      ['Status in v1', () => decodeRelayToClient(hex('0d 00'), 1), 'not-in-version'],
      ['Health in v2', () => decodeRelayToClient(hex('0b 41'), 2), 'not-in-version'],
      ['Health not UTF-8', () => decodeRelayToClient(hex('0b ff'), 1), 'invalid'],
      ['batch without segment size', () => decodeClientToRelay(hex(`05 ${KEY42_HEX} 00 01`)), 'truncated'],
      ['datagram without ECN', () => decodeClientToRelay(hex(`04 ${KEY42_HEX}`)), 'truncated'],
      ['payload over 64 KiB', () => decodeClientToRelay(concat(hex(`04 ${KEY42_HEX} 00`), new Uint8Array(MAX_PACKET_SIZE))), 'too-large'],
      ['message over 1 MiB', () => decodeClientToRelay(new Uint8Array(MAX_FRAME_SIZE + 1).fill(4, 0, 1)), 'too-large'],
      ['ClientAuth with a short signature length', () => decodeHandshake(hex(`01 ${KEY42_HEX} 3f`)), 'invalid'],
      ['ClientAuth truncated', () => decodeHandshake(hex(`01 ${KEY42_HEX} 40 00`)), 'truncated'],
      ['ServerChallenge of 15 bytes', () => decodeHandshake(new Uint8Array(16)), 'truncated'],
      ['ServerDeniesAuth reason longer than the frame', () => decodeHandshake(hex('03 05 41')), 'truncated'],
      ['ServerDeniesAuth endless length varint', () => decodeHandshake(hex('03 ffffffffff7f')), 'invalid'],
      ['ServerDeniesAuth reason not UTF-8', () => decodeHandshake(hex('03 01 ff')), 'invalid'],
      ['datagram during the handshake', () => decodeHandshake(hex(`04 ${KEY42_HEX} 00`)), 'unexpected-type'],
    ];
    for (const [name, fn, expected] of cases) assert.equal(code(fn), expected, name);
  });

  it('a payload of exactly 64 KiB is accepted', () => {
    const frame = concat(hex(`04 ${KEY42_HEX} 00`), new Uint8Array(MAX_PACKET_SIZE - 33));
    const msg = decodeClientToRelay(frame);
    assert.equal(msg.type === 'datagrams' && msg.datagrams.contents.length, MAX_PACKET_SIZE - 33);
  });

  it('handshake messages round-trip with their exact wire forms', () => {
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => i);
    const cases: Array<[HandshakeMsg, string]> = [
      [{ type: 'challenge', challenge }, `00 ${toHex(challenge)}`],
      [{ type: 'confirms' }, '02'],
      [{ type: 'denies', reason: 'signature invalid' }, `03 11 ${toHex(text('signature invalid'))}`],
      [{ type: 'denies', reason: 'x'.repeat(200) }, `03 c801 ${toHex(text('x'.repeat(200)))}`],
    ];
    for (const [msg, expected] of cases) {
      const bytes = encodeHandshake(msg);
      assert.equal(toHex(bytes), toHex(hex(expected)));
      assert.deepEqual(normalize(decodeHandshake(bytes)), normalize(msg));
    }
  });

  it('signs and verifies a challenge (98-byte ClientAuth; blake3 derive_key message)', () => {
    const seed = new Uint8Array(32).fill(42);
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => 200 + i);
    const auth = signChallenge(seed, challenge);
    const bytes = encodeHandshake(auth);
    assert.equal(bytes.length, 98);
    assert.equal(toHex(bytes.subarray(0, 34)), `01${KEY42_HEX}40`);
    const back = decodeHandshake(bytes);
    assert.ok(back.type === 'clientAuth');
    assert.ok(verifyChallenge(back.publicKey, back.signature, challenge));
    const other = challenge.slice();
    other[0]! ^= 1;
    assert.ok(!verifyChallenge(back.publicKey, back.signature, other));
    // The message is BLAKE3 in derive_key mode: 32 bytes, not a plain hash of the challenge.
    const m = challengeMessage(challenge);
    assert.equal(m.length, 32);
    // BLAKE3 derive_key official test vector (test_vectors.json, input of length 0).
    assert.equal(
      toHex(deriveKeyVector()),
      '2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d',
    );
  });

  it('the keying-material header round-trips and fails on the wrong connection or key', () => {
    const seed = new Uint8Array(32).fill(7);
    const exporter = fakeExporter(1);
    const header = keyMaterialAuthHeader(seed, exporter);
    assert.ok(header);
    assert.match(header, /^[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(header, 'base64url').length, 113);
    assert.equal(toHex(verifyKeyMaterialAuthHeader(header, exporter)), toHex(publicKeyOf(seed)));
    assert.equal(code(() => verifyKeyMaterialAuthHeader(header, fakeExporter(2))), 'invalid');
    assert.equal(code(() => verifyKeyMaterialAuthHeader(header.slice(0, 20), exporter)), 'invalid');
    assert.equal(code(() => verifyKeyMaterialAuthHeader('not base64!', exporter)), 'invalid');
    assert.equal(code(() => verifyKeyMaterialAuthHeader(header, () => undefined)), 'invalid');
    // A flipped signature bit, with the suffix intact.
    const body = Buffer.from(header, 'base64url');
    body[40]! ^= 1;
    assert.equal(code(() => verifyKeyMaterialAuthHeader(body.toString('base64url'), exporter)), 'invalid');
    assert.equal(keyMaterialAuthHeader(seed, () => undefined), undefined);
  });

  it('splits batches by segment size and packs runs of equal sizes', () => {
    const d = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
    const parts = splitDatagrams({ ecn: 0, segmentSize: 4, contents: concat(d(4, 1), d(4, 2), d(2, 3)) });
    assert.deepEqual(parts.map((p) => [...p]), [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3]]);
    assert.equal(splitDatagrams({ ecn: 0, segmentSize: 0, contents: d(5, 1) }).length, 1);
    assert.equal(splitDatagrams({ ecn: 0, segmentSize: 9, contents: d(5, 1) }).length, 1);

    const packed = packDatagrams([d(1200, 1), d(1200, 2), d(800, 3), d(1200, 4), d(1300, 5), d(1300, 6)]);
    assert.deepEqual(packed.map((p) => [p.segmentSize, p.contents.length]), [[1200, 3200], [0, 1200], [1300, 2600]]);
    const back = packed.flatMap((p) => splitDatagrams(p)).map((p) => p[0]);
    assert.deepEqual(back, [1, 2, 3, 4, 5, 6]);
    // A batch never exceeds the frame's contents limit.
    const many = Array.from({ length: 100 }, () => d(1200, 9));
    const big = packDatagrams(many);
    assert.ok(big.every((p) => p.contents.length <= MAX_BATCH_CONTENTS));
    assert.equal(big.reduce((n, p) => n + splitDatagrams(p).length, 0), 100);
    // The packed contents are copies.
    const src = d(10, 1);
    const one = packDatagrams([src]);
    src.fill(0);
    assert.equal(one[0]!.contents[0], 1);
  });

  it('property: every client frame round-trips and its size is exact', () => {
    const id = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const msg: fc.Arbitrary<ClientToRelayMsg> = fc.oneof(
      fc.record({ type: fc.constant('ping' as const), data: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
      fc.record({
        type: fc.constant('datagrams' as const),
        dst: id,
        datagrams: fc.record({ ecn: fc.integer({ min: 0, max: 3 }), segmentSize: fc.integer({ min: 0, max: 2000 }), contents: fc.uint8Array({ maxLength: 3000 }) }),
      }),
    );
    fc.assert(
      fc.property(msg, (m) => {
        const b = encodeClientToRelay(m);
        assert.equal(b.length, sizeClientToRelay(m));
        assert.deepEqual(normalize(decodeClientToRelay(b)), normalize(m));
      }),
      { seed: 13, numRuns: 200 },
    );
  });

  it('property: random bytes never make a decoder throw anything but RelayProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        for (const fn of [() => decodeClientToRelay(b), () => decodeRelayToClient(b, 2), () => decodeRelayToClient(b, 1), () => decodeHandshake(b)]) {
          try {
            fn();
          } catch (e) {
            assert.ok(e instanceof RelayProtocolError, String(e));
          }
        }
      }),
      { seed: 14, numRuns: 2000 },
    );
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Makes views comparable with deepEqual (a subarray and a fresh array of equal bytes). */
function normalize(x: unknown): unknown {
  if (x instanceof Uint8Array) return toHex(x);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalize(v)]));
  return x;
}

/** Keying material that depends on the "connection" and the context, as RFC 8446 §7.5's exporter does. */
function fakeExporter(conn: number): (length: number, label: string, context: Uint8Array) => Uint8Array {
  return (length, label, context) => {
    const out = new Uint8Array(length);
    const seed = Buffer.concat([Buffer.from([conn]), Buffer.from(label), context]);
    for (let i = 0; i < length; i++) out[i] = (seed[i % seed.length]! * 31 + i * 7 + conn) & 0xff;
    return out;
  };
}

/** BLAKE3's derive_key test vector: context "BLAKE3 2019-12-27 16:29:52 test vectors context", empty input. */
function deriveKeyVector(): Uint8Array {
  return challengeMessageWith(text('BLAKE3 2019-12-27 16:29:52 test vectors context'), new Uint8Array(0));
}

function challengeMessageWith(context: Uint8Array, input: Uint8Array): Uint8Array {
  return blake3(input, { context });
}
