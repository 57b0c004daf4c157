import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { ByteRing } from '../../../src/quic/streams/byte-ring.js';
import { ReceiveWindow, SendCredit } from '../../../src/quic/streams/flow-control.js';

const isFlowControlError = (e: unknown): boolean =>
  e instanceof TransportError && e.code === TransportErrorCode.FLOW_CONTROL_ERROR;

describe('SendCredit (RFC 9000 §4.1)', () => {
  it('ignores decreases and counts usage', () => {
    const c = new SendCredit(100);
    assert.equal(c.available, 100);
    assert.equal(c.raise(50), false);
    assert.equal(c.raise(100), false);
    assert.equal(c.limit, 100);
    c.consume(60);
    assert.equal(c.available, 40);
    assert.equal(c.raise(200), true);
    assert.equal(c.available, 140);
    assert.throws(() => c.consume(141), /flow control/);
  });

  it('signals BLOCKED once per limit', () => {
    const c = new SendCredit(10);
    assert.equal(c.markBlocked(), false, 'not blocked yet');
    c.consume(10);
    assert.equal(c.markBlocked(), true);
    assert.equal(c.markBlocked(), false, 'same limit: once');
    assert.equal(c.blockedStillValid(10), true);
    c.raise(20);
    assert.equal(c.blockedStillValid(10), false, 'limit raised: old signal moot');
    assert.equal(c.markBlocked(), false, 'not blocked at the new limit');
    c.consume(10);
    assert.equal(c.markBlocked(), true, 'new limit: signal again');
  });

  it('treats a saturated 2^62-1 (MAX_SAFE_INTEGER) as unlimited', () => {
    const c = new SendCredit(0);
    assert.equal(c.raise(Number.MAX_SAFE_INTEGER), true);
    c.consume(1e12);
    assert.equal(c.available, Number.MAX_SAFE_INTEGER - 1e12);
    assert.equal(c.isBlocked, false);
    assert.equal(c.raise(Number.MAX_SAFE_INTEGER), false);
  });
});

describe('ReceiveWindow (RFC 9000 §4.1-4.2)', () => {
  it('rejects data beyond the advertised limit without counting it', () => {
    const w = new ReceiveWindow(1000, 4000);
    w.check(1000, 0x08);
    assert.throws(() => w.check(1001, 0x08), isFlowControlError);
    assert.equal(w.received, 0, 'check does not mutate');
    w.onReceived(600);
    assert.throws(() => w.check(401, 0x08), isFlowControlError);
    w.check(400, 0x08);
  });

  it('extends the credit once half the window is consumed', () => {
    const w = new ReceiveWindow(1000, 1000);
    w.onReceived(1000);
    assert.equal(w.onConsumed(500), false, 'remaining credit 500 = half: not yet');
    assert.equal(w.updateDue, false);
    assert.equal(w.onConsumed(1), true, 'crossed half the window');
    assert.equal(w.onConsumed(1), false, 'reported once');
    assert.equal(w.advertise(0, 10), 1502);
    assert.equal(w.limit, 1502);
    assert.equal(w.updateDue, false);
  });

  it('re-sends a lost update only when it was the latest and not acked, with the current value', () => {
    const w = new ReceiveWindow(100, 100);
    w.onReceived(100);
    w.onConsumed(60);
    const first = w.advertise(0, 0);
    assert.equal(first, 160);
    w.onReceived(60);
    w.onConsumed(60);
    const second = w.advertise(1, 0);
    assert.equal(second, 220);
    assert.equal(w.onAdvertisedLost(first), false, 'older limit: the newer frame covers it');
    w.onAdvertisedAcked(second);
    assert.equal(w.onAdvertisedLost(second), false, 'acked already');
    w.onReceived(60);
    w.onConsumed(60);
    const third = w.advertise(2, 0);
    assert.equal(w.onAdvertisedLost(third), true);
    assert.equal(w.updateDue, true);
    w.onConsumed(0);
    assert.equal(w.advertise(3, 0), third, 'same value when nothing more was consumed');
  });

  it('auto-tuning: doubles under fast consumption up to the maximum', () => {
    const w = new ReceiveWindow(1000, 4000);
    let now = 0;
    const rtt = 100;
    // The application reads each half window immediately (1 ms): far faster than 2 RTTs.
    const sizes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const n = w.limit - w.consumed;
      w.onReceived(w.limit - w.received);
      w.onConsumed(n);
      now += 1;
      w.advertise(now, rtt);
      sizes.push(w.window);
    }
    assert.deepEqual(sizes, [1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000], 'first epoch only starts the clock');
  });

  it('auto-tuning: does not grow under slow consumption', () => {
    const w = new ReceiveWindow(1000, 16000);
    let now = 0;
    const rtt = 10;
    for (let i = 0; i < 10; i++) {
      w.onReceived(w.limit - w.received);
      w.onConsumed(600); // 600 bytes per 1000 ms: a window takes ~1.7 s >> 2 RTTs
      now += 1000;
      if (w.updateDue) w.advertise(now, rtt);
    }
    assert.equal(w.window, 1000);
  });

  it('auto-tuning boundary: a window in exactly 2 RTTs does not grow, slightly faster does', () => {
    const make = (): ReceiveWindow => {
      const w = new ReceiveWindow(1000, 8000);
      w.onReceived(1000);
      w.onConsumed(600);
      w.advertise(0, 50); // epoch starts
      return w;
    };
    const a = make();
    a.onReceived(600);
    a.onConsumed(500); // 500 B in 200 ms: a window (1000) takes 400 ms = 8 RTTs
    a.advertise(200, 50);
    assert.equal(a.window, 1000);
    const b = make();
    b.onReceived(600);
    b.onConsumed(500); // 500 B in 50 ms: a window takes 100 ms = exactly 2 RTTs: no growth (strict)
    b.advertise(50, 50);
    assert.equal(b.window, 1000);
    const c = make();
    c.onReceived(600);
    c.onConsumed(500); // 500 B in 49 ms: a window takes 98 ms < 2 RTTs: grows
    c.advertise(49, 50);
    assert.equal(c.window, 2000);
  });

  it('ensureWindow grows up to the maximum and may make an update due', () => {
    const w = new ReceiveWindow(1000, 3000);
    w.onReceived(1000);
    w.onConsumed(400);
    assert.equal(w.updateDue, false);
    assert.equal(w.ensureWindow(1500), true, 'remaining 600 < 750');
    assert.equal(w.window, 1500);
    w.ensureWindow(10_000);
    assert.equal(w.window, 3000);
    assert.equal(w.ensureWindow(100), false);
  });

  it('rejects a window larger than its maximum', () => {
    assert.throws(() => new ReceiveWindow(10, 5), RangeError);
  });
});

describe('ByteRing', () => {
  it('keeps the live span across wrap-around and growth', () => {
    const r = new ByteRing();
    const data = new Uint8Array(20000).map((_, i) => (i * 7) & 0xff);
    let lo = 0;
    let hi = 0;
    // Write in 3000-byte steps, free the oldest bytes so the live span stays <= 9000, then grow.
    for (let step = 0; step < 6; step++) {
      const end = hi + 3000;
      r.reserve(lo, hi, end, 9000);
      r.write(hi, data, hi, 3000);
      hi = end;
      if (hi - lo > 6000) lo = hi - 6000;
      const out = new Uint8Array(hi - lo);
      r.read(lo, out, 0, hi - lo);
      assert.deepEqual(out, data.subarray(lo, hi), `step ${step}`);
    }
    r.reserve(lo, hi, hi + 2000, 1 << 20); // grows past 9000 keeping [lo, hi)
    r.write(hi, data, hi, 2000);
    const out = new Uint8Array(hi + 2000 - lo);
    r.read(lo, out, 0, out.length);
    assert.deepEqual(out, data.subarray(lo, hi + 2000));
    r.release();
    assert.equal(r.capacity, 0);
  });
});
