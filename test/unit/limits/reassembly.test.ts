import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { TransportError, TransportErrorCode as E } from '../../../src/quic/errors.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { RangeSet } from '../../../src/quic/range-set.js';
import { ReceiveWindow } from '../../../src/quic/streams/flow-control.js';
import { MAX_RECV_RANGES, RecvStream } from '../../../src/quic/streams/recv-stream.js';
import { SeededRandom } from '../../../src/tls/random.js';

/**
 * Out-of-order reassembly of stream data (RFC 9000 §21.7). The BYTES a peer can make us hold are
 * bounded by the flow-control window (FLOW_CONTROL_ERROR beyond it, tested in
 * test/unit/streams/recv-stream.test.ts); the number of HOLES is bounded by MAX_RECV_RANGES.
 */
const isCode = (c: number) => (e: unknown): boolean => e instanceof TransportError && e.code === c;

describe('limits: stream reassembly', () => {
  it('RangeSet.touches says whether an insert merges (overlap or adjacency) or adds a range', () => {
    const r = new RangeSet();
    r.insert(10, 20);
    r.insert(30, 40);
    assert.equal(r.touches(0, 5), false);
    assert.equal(r.touches(0, 10), true, 'adjacent below');
    assert.equal(r.touches(20, 25), true, 'adjacent above');
    assert.equal(r.touches(21, 29), false);
    assert.equal(r.touches(25, 35), true);
    assert.equal(r.touches(41, 50), false);
    assert.equal(r.touches(5, 5), true, 'empty never adds');
    const rng = new SeededRandom(testSeed(71));
    for (let i = 0; i < 2000; i++) {
      const s = rng.int(500);
      const e = s + rng.int(20);
      const before = r.size;
      const touches = r.touches(s, e);
      r.insert(s, e);
      if (!touches) assert.equal(r.size, before + 1, `[${s}, ${e}) added a range`);
      else assert.ok(r.size <= before, `[${s}, ${e}) merged`);
    }
  });

  it('1-byte frames at every other offset, highest first: PROTOCOL_VIOLATION at hole 1025, bytes within the window', () => {
    const window = 256 * 1024;
    const r = new RecvStream(0, new ReceiveWindow(window, window));
    const one = new Uint8Array([7]);
    let accepted = 0;
    let err: unknown;
    for (let off = window - 2; off >= 0; off -= 2) {
      try {
        r.onStreamFrame(off, one, false);
        accepted++;
      } catch (e) {
        err = e;
        break;
      }
    }
    assert.ok(isCode(E.PROTOCOL_VIOLATION)(err), `closed with ${String(err)}`);
    assert.equal(accepted, MAX_RECV_RANGES, 'every range up to the cap was accepted');
    assert.ok(r.bufferCapacity <= window, `ring ${r.bufferCapacity} within the window`);
  });

  it('the cap counts holes, not frames: filling holes, extending ranges and duplicates stay accepted', () => {
    const r = new RecvStream(0, new ReceiveWindow(1 << 20, 1 << 20), { maxRanges: 9 });
    const d = new Uint8Array(100).fill(1);
    for (let k = 1; k <= 9; k++) r.onStreamFrame(k * 1000, d, false); // 9 islands, hole at 0
    assert.throws(() => r.onStreamFrame(20_000, d, false), isCode(E.PROTOCOL_VIOLATION));
    r.onStreamFrame(1100, d, false); // extends an island
    r.onStreamFrame(1000, d, false); // duplicate
    r.onStreamFrame(1200, new Uint8Array(800), false); // fills the hole between islands 1 and 2
    r.onStreamFrame(9100, d, false);
    r.onStreamFrame(20_000, d, false); // one range fewer: room for a new island again
    r.onStreamFrame(0, new Uint8Array(1000), false); // the front hole
    assert.equal(r.available, 2100, '[0, 2100) is contiguous now');
    assert.equal(r.read()!.length, 2100);
  });

  it('a heavily lossy but honest pattern (500 lost packets of 1200 bytes in one window) is accepted', () => {
    const r = new RecvStream(0, new ReceiveWindow(4 << 20, 4 << 20));
    const pkt = new Uint8Array(1200).fill(3);
    for (let k = 0; k < 1000; k++) if (k % 2 === 1) r.onStreamFrame(k * 1200, pkt, false);
    for (let k = 0; k < 1000; k++) if (k % 2 === 0) r.onStreamFrame(k * 1200, pkt, false);
    assert.equal(r.available, 1_200_000);
  });

  it('over a connection: the attacking peer is closed with PROTOCOL_VIOLATION, quickly', () => {
    const p = new Pair({ seed: testSeed(72), link: { delayMs: 5 } });
    p.handshake();
    p.runFor(100);
    const t0 = performance.now();
    // 120 packets of 12 one-byte STREAM frames each, descending offsets, every other byte.
    let off = 256 * 1024 - 2;
    for (let pkt = 0; pkt < 120 && off >= 0; pkt++) {
      const frames: Frame[] = [];
      for (let k = 0; k < 12 && off >= 0; k++, off -= 2) frames.push({ kind: 'stream', streamId: 0, offset: off, data: new Uint8Array([1]), fin: false });
      injectPacket(p, 'client', frameBytes(...frames));
    }
    p.drive(() => p.server!.isClosed, 5_000);
    const ci = p.server!.closeInfo!;
    assert.equal(ci.kind, 'transport');
    assert.equal(Number(ci.code), E.PROTOCOL_VIOLATION, ci.reason);
    assert.match(ci.reason, /holes/);
    p.drive(() => p.client.isClosed, 5_000);
    assert.equal(Number(p.client.closeInfo!.code), E.PROTOCOL_VIOLATION);
    const ms = performance.now() - t0;
    console.log(`      (1,440 one-byte frames injected and refused in ${ms.toFixed(0)} ms)`);
  });
});
