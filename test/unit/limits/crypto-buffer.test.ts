import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { CryptoStream, DEFAULT_CRYPTO_BUFFER, MAX_CRYPTO_CHUNKS } from '../../../src/quic/connection/crypto-stream.js';
import { concatBytes } from '../../../src/codec/bytes.js';
import { TransportError, TransportErrorCode as E } from '../../../src/quic/errors.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { SeededRandom } from '../../../src/tls/random.js';

/**
 * The CRYPTO reassembly buffer (RFC 9000 §7.5): how far ahead of TLS data may reach (the span),
 * how many bytes are stored out of order, and in how many chunks, are all bounded.
 */
const isCode = (c: number) => (e: unknown): boolean => e instanceof TransportError && e.code === c;

describe('limits: CRYPTO buffer', () => {
  it('overlapping chunks at distinct offsets are stored once: never more than the buffer, and data beyond it closes', () => {
    const c = new CryptoStream(DEFAULT_CRYPTO_BUFFER);
    const chunk = new Uint8Array(30_000);
    let err: unknown;
    let off = 1;
    // Each chunk overlaps the previous one but one byte: before, each was kept whole (~2 GB
    // reachable by span alone); now the window holds each byte once.
    for (; off < 100_000; off += 1000) {
      try {
        c.onCryptoFrame(off, chunk);
      } catch (e) {
        err = e;
        break;
      }
      assert.ok(c.bufferedBytes <= DEFAULT_CRYPTO_BUFFER, `buffered ${c.bufferedBytes}`);
      assert.equal(c.bufferedBytes, off - 1 + 30_000, 'each byte counted once');
    }
    assert.ok(isCode(E.CRYPTO_BUFFER_EXCEEDED)(err), String(err));
    assert.ok(off + 30_000 > DEFAULT_CRYPTO_BUFFER && off - 1000 + 30_000 <= DEFAULT_CRYPTO_BUFFER, `refused at offset ${off}`);
  });

  it(`at most ${MAX_CRYPTO_CHUNKS} out-of-order chunks`, () => {
    const c = new CryptoStream();
    for (let i = 0; i < MAX_CRYPTO_CHUNKS; i++) c.onCryptoFrame(2 + 2 * i, new Uint8Array(1));
    assert.throws(() => c.onCryptoFrame(5000, new Uint8Array(1)), isCode(E.CRYPTO_BUFFER_EXCEEDED));
    // A longer copy at an offset already held replaces it (no new chunk): still accepted.
    c.onCryptoFrame(2, new Uint8Array(2));
    assert.equal(c.bufferedBytes, MAX_CRYPTO_CHUNKS + 1);
  });

  it('an honest flight, reordered, duplicated and re-split by retransmissions, is reassembled exactly', () => {
    const rng = new SeededRandom(testSeed(73));
    const flight = rng.fill(new Uint8Array(12_000));
    const c = new CryptoStream();
    const pieces: Array<[number, number]> = [];
    for (let round = 0; round < 3; round++) {
      const size = 900 + 150 * round; // each retransmission splits differently
      for (let o = 0; o < flight.length; o += size) pieces.push([o, Math.min(flight.length, o + size)]);
    }
    // Shuffle, but hold back offset 0 until the end: everything else waits out of order.
    for (let i = pieces.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
    }
    const first = pieces.filter(([s]) => s === 0);
    const out: Uint8Array[] = [];
    for (const [s, e] of [...pieces.filter(([s]) => s !== 0), ...first]) out.push(...c.onCryptoFrame(s, flight.subarray(s, e)));
    assert.deepEqual(concatBytes(...out), flight);
    assert.equal(c.bufferedBytes, 0);
  });

  it('over a connection: 1-RTT CRYPTO frames that overlap out of order close with CRYPTO_BUFFER_EXCEEDED', () => {
    const p = new Pair({ seed: testSeed(74), link: { delayMs: 5 } });
    p.handshake();
    p.runFor(100);
    // Each packet: one 1,100-byte CRYPTO frame above a hole at 0, overlapping the previous one;
    // stored once, they still reach past the 64 KiB window.
    for (let i = 0; i < 80; i++) {
      const f: Frame = { kind: 'crypto', offset: 100 + i * 1000, data: new Uint8Array(1100).fill(i) };
      injectPacket(p, 'client', frameBytes(f));
    }
    p.drive(() => p.server!.isClosed, 5_000);
    const ci = p.server!.closeInfo!;
    assert.equal(ci.kind, 'transport');
    assert.equal(Number(ci.code), E.CRYPTO_BUFFER_EXCEEDED, ci.reason);
    p.drive(() => p.client.isClosed, 5_000);
    assert.equal(Number(p.client.closeInfo!.code), E.CRYPTO_BUFFER_EXCEEDED);
  });
});
