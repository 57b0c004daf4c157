import assert from 'node:assert/strict';
import { CryptoStream } from '../../../src/quic/connection/crypto-stream.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { concatBytes } from '../../../src/codec/bytes.js';
import { SeededRandom } from '../../../src/tls/random.js';

describe('CRYPTO stream', () => {
  it('sends new data in chunks and re-sends only lost, unacknowledged ranges', () => {
    const c = new CryptoStream();
    c.write(new Uint8Array(3000).map((_, i) => i & 0xff));
    const a = c.nextChunk(1200)!;
    const b = c.nextChunk(1200)!;
    const d = c.nextChunk(1200)!;
    assert.deepEqual([a.offset, b.offset, d.offset, d.data.length], [0, 1200, 2400, 600]);
    assert.equal(c.nextChunk(1200), undefined);
    c.onAcked(1200, 1200);
    c.onLost(0, 1200);
    c.onLost(1200, 1200); // acknowledged already: nothing to re-send
    const r = c.nextChunk(500)!;
    assert.deepEqual([r.offset, r.data.length, r.data[0]], [0, 500, 0]);
    const r2 = c.nextChunk(5000)!;
    assert.deepEqual([r2.offset, r2.data.length], [500, 700]);
    assert.equal(c.hasDataToSend, false);
    c.onAcked(0, 1200);
    c.onAcked(2400, 600);
    assert.equal(c.allAcked, true);
  });

  it('requeues the whole unacknowledged flight for a PTO probe', () => {
    const c = new CryptoStream();
    c.write(new Uint8Array(100));
    c.nextChunk(1000);
    c.onAcked(0, 40);
    c.requeueUnacked();
    const r = c.nextChunk(1000)!;
    assert.deepEqual([r.offset, r.data.length], [40, 60]);
  });

  it('reassembles out-of-order, overlapping and duplicate frames in order (seeded)', () => {
    const rng = new SeededRandom(9);
    const data = rng.fill(new Uint8Array(5000));
    const frames: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < 200; i++) {
      const off = rng.int(data.length);
      const len = 1 + rng.int(400);
      frames.push([off, data.subarray(off, Math.min(data.length, off + len))]);
    }
    frames.push([0, data.subarray(0, 10)]);
    for (let off = 0; off < data.length; off += 700) frames.push([off, data.subarray(off, off + 700)]);
    const c = new CryptoStream();
    const got: Uint8Array[] = [];
    for (const [off, chunk] of frames) got.push(...c.onCryptoFrame(off, chunk));
    assert.deepEqual(concatBytes(...got), data);
    assert.equal(c.bufferedBytes, 0);
  });

  it('copies what it keeps, so packet buffers may be reused', () => {
    const c = new CryptoStream();
    const later = new Uint8Array([5, 6]);
    c.onCryptoFrame(2, later);
    later.fill(0);
    const out = c.onCryptoFrame(0, new Uint8Array([1, 2]));
    assert.deepEqual([...concatBytes(...out)], [1, 2, 5, 6]);
  });

  it('bounds buffering with CRYPTO_BUFFER_EXCEEDED', () => {
    const c = new CryptoStream(1000);
    c.onCryptoFrame(500, new Uint8Array(500));
    assert.throws(
      () => c.onCryptoFrame(900, new Uint8Array(101)),
      (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
    );
  });
});
