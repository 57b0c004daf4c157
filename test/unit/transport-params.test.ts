import assert from 'node:assert/strict';
import { Reader } from '../../src/codec/reader.js';
import { Writer } from '../../src/codec/writer.js';
import { fromHex, toHex } from '../../src/codec/bytes.js';
import { TransportError, TransportErrorCode } from '../../src/quic/errors.js';
import { SeededRandom } from '../../src/tls/random.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  sizeTransportParameters,
  writeTransportParameters,
  type Role,
  type TransportParameters,
} from '../../src/quic/transport-params.js';

const TPE = TransportErrorCode.TRANSPORT_PARAMETER_ERROR;
const hex = (s: string): Uint8Array => fromHex(s);
const isTpe = (e: unknown): boolean => e instanceof TransportError && e.code === TPE;

function withDefaults(over: Partial<TransportParameters>): TransportParameters {
  return { ...defaultTransportParameters(), ...over };
}

const TOKEN = '000102030405060708090a0b0c0d0e0f';
const PREFERRED =
  'c0a80001 1151' + // 192.168.0.1:4433
  '20010db8000000000000000000000001 1152' + // 2001:db8::1:4434
  '04 deadbeef' +
  TOKEN;

function fullServer(): TransportParameters {
  return withDefaults({
    originalDestinationConnectionId: hex('0102030405060708'),
    maxIdleTimeout: 30000,
    statelessResetToken: hex(TOKEN),
    maxUdpPayloadSize: 1472,
    initialMaxData: 2 ** 40,
    initialMaxStreamDataBidiLocal: 1_250_000,
    initialMaxStreamDataBidiRemote: 1_250_001,
    initialMaxStreamDataUni: 1_250_002,
    initialMaxStreamsBidi: 100,
    initialMaxStreamsUni: 101,
    ackDelayExponent: 20,
    maxAckDelay: 16383,
    disableActiveMigration: true,
    preferredAddress: {
      ipv4Address: hex('c0a80001'),
      ipv4Port: 4433,
      ipv6Address: hex('20010db8000000000000000000000001'),
      ipv6Port: 4434,
      connectionId: hex('deadbeef'),
      statelessResetToken: hex(TOKEN),
    },
    activeConnectionIdLimit: 5,
    initialSourceConnectionId: hex('a1a2a3a4a5a6a7a8'),
    retrySourceConnectionId: hex('b1b2b3b4'),
    maxDatagramFrameSize: 65535,
    initialMaxPathId: 7,
    n0NatTraversal: 32,
    addressDiscovery: 2,
  });
}

function fullClient(): TransportParameters {
  return withDefaults({
    maxIdleTimeout: 1,
    maxUdpPayloadSize: 1200,
    initialMaxData: 0x3fffffff,
    initialMaxStreamsBidi: 2 ** 50,
    activeConnectionIdLimit: 2,
    initialSourceConnectionId: new Uint8Array(0), // zero-length CID: present but empty
    maxDatagramFrameSize: 1200,
  });
}

/** The [start, end) offsets at which each parameter of an encoding begins. */
function boundaries(bytes: Uint8Array): number[] {
  const r = new Reader(bytes);
  const out = [0];
  while (!r.atEnd) {
    r.varintBig();
    r.skip(r.varint());
    out.push(r.pos);
  }
  return out;
}

function encodeChecked(p: TransportParameters, role: Role): Uint8Array {
  const bytes = encodeTransportParameters(p, role);
  assert.equal(bytes.length, sizeTransportParameters(p, role), 'size == bytes written');
  const w = Writer.growable(1);
  writeTransportParameters(w, p, role);
  assert.deepEqual(w.bytes(), bytes);
  return bytes;
}

describe('transport parameters (RFC 9000 §18, RFC 9221 §3)', () => {
  it('defaults encode to nothing and decode back', () => {
    for (const role of ['client', 'server'] as const) {
      assert.equal(encodeChecked(defaultTransportParameters(), role).length, 0);
      assert.deepEqual(decodeTransportParameters(new Uint8Array(0), role), defaultTransportParameters());
    }
    // Parameters equal to their default are omitted.
    assert.equal(toHex(encodeChecked(withDefaults({ maxAckDelay: 25, ackDelayExponent: 3, maxIdleTimeout: 7 }), 'client')), '010107');
  });

  it('round-trips every parameter a server and a client may send, with exact sizes', () => {
    const server = fullServer();
    const bytes = encodeChecked(server, 'server');
    assert.deepEqual(decodeTransportParameters(bytes, 'server'), server);
    // Ascending ids, no extension we do not implement.
    const r = new Reader(bytes);
    const ids: number[] = [];
    while (!r.atEnd) {
      ids.push(r.varint());
      r.skip(r.varint());
    }
    assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x20, 0x3e, 0x3d7f91120401, 0x9f81a176]);
    // The multipath and n0 NAT traversal parameters as noq writes them.
    assert.ok(toHex(bytes).endsWith('3e0107' + 'c0003d7f91120401' + '0120' + 'c00000009f81a176' + '0102'));
    // The preferred_address layout of RFC 9000 Figure 22.
    assert.ok(toHex(bytes).includes('0d' + '2d' + PREFERRED.replace(/ /g, '')));

    const client = fullClient();
    const cb = encodeChecked(client, 'client');
    assert.deepEqual(decodeTransportParameters(cb, 'client'), client);
    assert.ok(toHex(cb).includes('0f00'), 'an empty initial_source_connection_id is still sent');
  });

  it("decodes an iroh-shaped blob: 2^62-1 as unlimited, extensions and GREASE skipped", () => {
    // As iroh 1.0.2 sends them (IROH.md "What the iroh server sent" item 2), in a shuffled order.
    const blob = hex(
      [
        '04 08 ffffffffffffffff', // initial_max_data 2^62-1 (8-byte varint)
        'c0000000ff04de1b 02 43e8', // min_ack_delay (ACK-frequency draft) = 1000
        '0f 08 a1a2a3a4a5a6a7a8', // initial_source_connection_id
        '01 04 80007530', // max_idle_timeout 30000
        '3e 01 07', // multipath initial_max_path_id = 7
        `02 10 ${TOKEN}`, // stateless_reset_token
        '03 02 45c0', // max_udp_payload_size 1472
        '80023467 03 abcdef', // GREASE: 31 * 4660 + 27 = 0x23467
        '05 04 801312d0', // initial_max_stream_data_bidi_local 1,250,000
        '06 04 801312d0',
        '07 04 801312d0',
        'c0003d7f91120401 01 20', // n0 NAT traversal = 32
        '08 02 4064', // initial_max_streams_bidi 100
        '09 02 4064',
        '0e 01 05', // active_connection_id_limit 5
        '20 04 8000ffff', // max_datagram_frame_size 65535
        '00 08 0102030405060708', // original_destination_connection_id
      ].join(''),
    );
    const p = decodeTransportParameters(blob, 'server');
    assert.deepEqual(
      p,
      withDefaults({
        originalDestinationConnectionId: hex('0102030405060708'),
        maxIdleTimeout: 30000,
        statelessResetToken: hex(TOKEN),
        maxUdpPayloadSize: 1472,
        initialMaxData: Number.MAX_SAFE_INTEGER,
        initialMaxStreamDataBidiLocal: 1_250_000,
        initialMaxStreamDataBidiRemote: 1_250_000,
        initialMaxStreamDataUni: 1_250_000,
        initialMaxStreamsBidi: 100,
        initialMaxStreamsUni: 100,
        activeConnectionIdLimit: 5,
        initialSourceConnectionId: hex('a1a2a3a4a5a6a7a8'),
        maxDatagramFrameSize: 65535,
        initialMaxPathId: 7,
        n0NatTraversal: 32,
      }),
    );
    // iroh sends no ack_delay_exponent / max_ack_delay: the defaults apply.
    assert.equal(p.ackDelayExponent, 3);
    assert.equal(p.maxAckDelay, 25);
    // Byte fields are copies: they outlive the handshake buffer.
    const cid = p.initialSourceConnectionId!;
    blob.fill(0);
    assert.equal(toHex(cid), 'a1a2a3a4a5a6a7a8');
  });

  it('every truncated prefix either ends on a parameter boundary or fails with TRANSPORT_PARAMETER_ERROR', () => {
    for (const [p, role] of [
      [fullServer(), 'server'],
      [fullClient(), 'client'],
    ] as const) {
      const bytes = encodeChecked(p, role);
      const cuts = new Set(boundaries(bytes));
      for (let k = 0; k < bytes.length; k++) {
        const prefix = bytes.subarray(0, k);
        if (cuts.has(k)) decodeTransportParameters(prefix, role);
        else assert.throws(() => decodeTransportParameters(prefix, role), isTpe, `${role} cut at ${k}`);
      }
    }
  });

  /** [what, hex, sender role] -> TRANSPORT_PARAMETER_ERROR. */
  const MALFORMED: Array<[string, string, Role]> = [
    ['duplicate parameter', '01 01 05 01 01 05', 'client'],
    ['duplicate unknown parameter', '3e 01 07 3e 01 07', 'server'],
    ['duplicate, second one differently encoded', '01 01 05 4001 01 06', 'client'],
    ['max_udp_payload_size 1199', '03 02 44af', 'client'],
    ['ack_delay_exponent 21', '0a 01 15', 'server'],
    ['max_ack_delay 2^14', '0b 04 80004000', 'client'],
    ['active_connection_id_limit 1', '0e 01 01', 'client'],
    ['active_connection_id_limit 0', '0e 01 00', 'server'],
    ['initial_max_streams_bidi 2^60+1', '08 08 d000000000000001', 'client'],
    ['initial_max_streams_uni 2^62-1', '09 08 ffffffffffffffff', 'server'],
    ['client sends original_destination_connection_id', '00 01 aa', 'client'],
    ['client sends stateless_reset_token', `02 10 ${TOKEN}`, 'client'],
    ['client sends preferred_address', `0d 2d ${PREFERRED}`, 'client'],
    ['client sends retry_source_connection_id', '10 01 aa', 'client'],
    ['initial_source_connection_id of 21 bytes', `0f 15 ${'ab'.repeat(21)}`, 'client'],
    ['original_destination_connection_id of 21 bytes', `00 15 ${'ab'.repeat(21)}`, 'server'],
    ['retry_source_connection_id of 21 bytes', `10 15 ${'ab'.repeat(21)}`, 'server'],
    ['stateless_reset_token of 15 bytes', `02 0f ${TOKEN.slice(2)}`, 'server'],
    ['stateless_reset_token of 17 bytes', `02 11 ${TOKEN}00`, 'server'],
    ['varint value with a trailing byte', '01 02 05 01', 'client'],
    ['empty value for a varint parameter', '01 00', 'client'],
    ['truncated varint value', '01 01 40', 'client'],
    ['disable_active_migration with a value', '0c 01 00', 'client'],
    ['preferred_address with a zero-length connection id', `0d 29 c0a800011151 20010db80000000000000000000000011152 00 ${TOKEN}`, 'server'],
    ['preferred_address with a 21-byte connection id', `0d 3e c0a800011151 20010db80000000000000000000000011152 15 ${'ab'.repeat(21)} ${TOKEN}`, 'server'],
    ['preferred_address one byte short', `0d 2c ${PREFERRED.replace(/ /g, '').slice(0, -2)}`, 'server'],
    ['preferred_address with a trailing byte', `0d 2e ${PREFERRED} 00`, 'server'],
    ['parameter length past the end', '01 05 00', 'client'],
    ['truncated parameter id', '40', 'client'],
    ['missing parameter length', '01', 'server'],
    ['truncated unknown parameter', '3e 04 0000', 'server'],
  ];
  for (const [what, h, role] of MALFORMED) {
    it(`rejects: ${what}`, () => {
      assert.throws(() => decodeTransportParameters(hex(h), role), (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, TPE, e.message);
        return true;
      });
    });
  }

  it('accepts the edge values just inside the limits', () => {
    const p = decodeTransportParameters(hex('03 02 44b0 0a 01 14 0b 02 7fff 0e 01 02 08 08 d000000000000000'), 'client');
    assert.equal(p.maxUdpPayloadSize, 1200);
    assert.equal(p.ackDelayExponent, 20);
    assert.equal(p.maxAckDelay, 16383);
    assert.equal(p.activeConnectionIdLimit, 2);
    assert.equal(p.initialMaxStreamsBidi, Number.MAX_SAFE_INTEGER); // 2^60, saturated
    // The server-only parameters are fine from a server; 20-byte connection ids are fine.
    const s = decodeTransportParameters(hex(`00 14 ${'cd'.repeat(20)} 10 00`), 'server');
    assert.equal(s.originalDestinationConnectionId!.length, 20);
    assert.deepEqual(s.retrySourceConnectionId, new Uint8Array(0));
  });

  it('refuses to encode values RFC 9000 §18.2 forbids', () => {
    const bad: Array<[Partial<TransportParameters>, Role]> = [
      [{ statelessResetToken: hex(TOKEN) }, 'client'],
      [{ originalDestinationConnectionId: hex('01') }, 'client'],
      [{ retrySourceConnectionId: hex('01') }, 'client'],
      [{ preferredAddress: fullServer().preferredAddress }, 'client'],
      [{ maxUdpPayloadSize: 1000 }, 'server'],
      [{ ackDelayExponent: 21 }, 'server'],
      [{ maxAckDelay: 2 ** 14 }, 'server'],
      [{ activeConnectionIdLimit: 1 }, 'server'],
      [{ initialMaxStreamsBidi: 2 ** 60 + 2 ** 40 }, 'server'],
      [{ initialMaxData: -1 }, 'server'],
      [{ maxIdleTimeout: 1.5 }, 'server'],
      [{ initialSourceConnectionId: new Uint8Array(21) }, 'server'],
      [{ statelessResetToken: new Uint8Array(8) }, 'server'],
    ];
    for (const [over, role] of bad) {
      assert.throws(() => encodeTransportParameters(withDefaults(over), role), RangeError, JSON.stringify(over));
    }
  });

  it('initial_max_path_id and the n0 NAT traversal parameter: their limits (draft-ietf-quic-multipath §2, noq)', () => {
    const ok = (h: string): TransportParameters => decodeTransportParameters(hex(h), 'client');
    assert.equal(ok('3e 01 00').initialMaxPathId, 0);
    assert.equal(ok('3e 08 c0000000ffffffff').initialMaxPathId, 0xffffffff);
    assert.equal(ok('c0003d7f91120401 01 01').n0NatTraversal, 1);
    assert.equal(ok('c0003d7f91120401 01 ff').n0NatTraversal, 255);
    assert.equal(ok('').initialMaxPathId, null);
    assert.equal(ok('').n0NatTraversal, null);
    for (const bad of [
      '3e 00', // no varint
      '3e 08 c000000100000000', // 2^32: not a path id
      '3e 08 ffffffffffffffff',
      '3e 02 0700', // trailing byte
      'c0003d7f91120401 01 00', // zero addresses (noq: a NonZeroU8)
      'c0003d7f91120401 00', // empty
      'c0003d7f91120401 02 0101', // two bytes
      '3e 01 07 3e 01 07', // duplicate
    ]) {
      assert.throws(() => decodeTransportParameters(hex(bad), 'server'), isTpe, bad);
    }
    assert.throws(() => encodeTransportParameters(withDefaults({ initialMaxPathId: 2 ** 32 }), 'client'), RangeError);
    assert.throws(() => encodeTransportParameters(withDefaults({ n0NatTraversal: 0 }), 'client'), RangeError);
    assert.throws(() => encodeTransportParameters(withDefaults({ n0NatTraversal: 256 }), 'client'), RangeError);
  });

  it('the address discovery parameter (0x9f81a176, noq): a role 0, 1 or 2', () => {
    const ok = (h: string): TransportParameters => decodeTransportParameters(hex(h), 'client');
    assert.equal(ok('').addressDiscovery, null);
    for (const role of [0, 1, 2]) assert.equal(ok(`c00000009f81a176 01 0${role}`).addressDiscovery, role);
    for (const bad of [
      'c00000009f81a176 01 03', // no such role
      'c00000009f81a176 00', // empty
      'c00000009f81a176 02 0100', // trailing byte
    ]) {
      assert.throws(() => decodeTransportParameters(hex(bad), 'server'), isTpe, bad);
    }
    assert.throws(() => encodeTransportParameters(withDefaults({ addressDiscovery: 3 as 2 }), 'client'), RangeError);
  });

  it('property: random bytes only ever produce TRANSPORT_PARAMETER_ERROR (seeded)', () => {
    const seed = 0x7a7a;
    const rng = new SeededRandom(seed);
    let ok = 0;
    for (let i = 0; i < 20000; i++) {
      const bytes = rng.fill(new Uint8Array(rng.int(40)));
      // Bias the first byte toward known ids so the per-parameter rules are reached.
      if (bytes.length > 0 && rng.int(2) === 0) bytes[0] = rng.int(0x11);
      if (bytes.length > 1 && rng.int(2) === 0) bytes[1] = rng.int(bytes.length - 1);
      const role: Role = rng.int(2) ? 'client' : 'server';
      try {
        decodeTransportParameters(bytes, role);
        ok++;
      } catch (e) {
        if (!isTpe(e)) assert.fail(`seed ${seed} iteration ${i}: ${String(e)} for ${toHex(bytes)}`);
      }
    }
    assert.ok(ok > 100, `some random inputs decode (${ok})`);
  });

  it('property: random parameters round-trip with exact sizes (seeded)', () => {
    const seed = 2024;
    const rng = new SeededRandom(seed);
    const num = (max: number): number =>
      rng.int(4) === 0 ? max : [rng.int(64), rng.int(16384), rng.int(2 ** 30), Math.floor(rng.next() * max)][rng.int(4)]!;
    const maybe = <T>(v: () => T): T | null => (rng.int(2) ? v() : null);
    const bytes = (n: number): Uint8Array => rng.fill(new Uint8Array(n));
    for (let i = 0; i < 2000; i++) {
      const role: Role = rng.int(2) ? 'client' : 'server';
      const server = role === 'server';
      const p: TransportParameters = {
        originalDestinationConnectionId: server ? maybe(() => bytes(rng.int(21))) : null,
        maxIdleTimeout: num(Number.MAX_SAFE_INTEGER),
        statelessResetToken: server ? maybe(() => bytes(16)) : null,
        maxUdpPayloadSize: 1200 + num(70000),
        initialMaxData: num(Number.MAX_SAFE_INTEGER),
        initialMaxStreamDataBidiLocal: num(Number.MAX_SAFE_INTEGER),
        initialMaxStreamDataBidiRemote: num(Number.MAX_SAFE_INTEGER),
        initialMaxStreamDataUni: num(Number.MAX_SAFE_INTEGER),
        initialMaxStreamsBidi: num(Number.MAX_SAFE_INTEGER),
        initialMaxStreamsUni: num(Number.MAX_SAFE_INTEGER),
        ackDelayExponent: rng.int(21),
        maxAckDelay: rng.int(2 ** 14),
        disableActiveMigration: rng.int(2) === 0,
        preferredAddress: server
          ? maybe(() => ({
              ipv4Address: bytes(4),
              ipv4Port: rng.int(65536),
              ipv6Address: bytes(16),
              ipv6Port: rng.int(65536),
              connectionId: bytes(1 + rng.int(20)),
              statelessResetToken: bytes(16),
            }))
          : null,
        activeConnectionIdLimit: 2 + num(1000),
        initialSourceConnectionId: maybe(() => bytes(rng.int(21))),
        retrySourceConnectionId: server ? maybe(() => bytes(rng.int(21))) : null,
        maxDatagramFrameSize: num(65535),
        initialMaxPathId: maybe(() => num(0xffffffff)),
        n0NatTraversal: maybe(() => 1 + rng.int(255)),
        addressDiscovery: maybe(() => rng.int(3) as 0 | 1 | 2),
      };
      const enc = encodeChecked(p, role);
      assert.deepEqual(decodeTransportParameters(enc, role), p, `seed ${seed} iteration ${i}`);
    }
  });
});
