import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { ReceiveWindow } from '../../../src/quic/streams/flow-control.js';
import { RecvStream, RecvState } from '../../../src/quic/streams/recv-stream.js';
import type { RecvStreamOwner } from '../../../src/quic/streams/recv-stream.js';
import { SeededRandom } from '../../../src/tls/random.js';

class Owner implements RecvStreamOwner {
  calls: string[] = [];
  onReadable(): void {
    this.calls.push('readable');
  }
  onRecvControl(): void {
    this.calls.push('control');
  }
  onRecvTerminal(): void {
    this.calls.push('terminal');
  }
  count(what: string): number {
    return this.calls.filter((c) => c === what).length;
  }
}

function make(win = 1000, maxWin = win, conn: ReceiveWindow | null = null): { r: RecvStream; o: Owner } {
  const o = new Owner();
  const r = new RecvStream(1, new ReceiveWindow(win, maxWin), { owner: o, conn });
  return { r, o };
}

const bytes = (n: number, seed = 1): Uint8Array => new SeededRandom(seed).fill(new Uint8Array(n));
const code = (c: number) => (e: unknown): boolean => e instanceof TransportError && e.code === c;

describe('RecvStream states (RFC 9000 §3.2)', () => {
  it('Recv -> Size Known -> Data Recvd -> Data Read', () => {
    const { r, o } = make();
    const d = bytes(100);
    assert.equal(r.state, RecvState.Recv);
    r.onStreamFrame(50, d.subarray(50), true);
    assert.equal(r.state, RecvState.SizeKnown);
    assert.equal(r.finalSize, 100);
    assert.equal(r.available, 0);
    assert.equal(o.count('readable'), 0, 'nothing contiguous yet');
    r.onStreamFrame(0, d.subarray(0, 50), false);
    assert.equal(r.state, RecvState.DataRecvd);
    assert.equal(o.count('readable'), 1);
    assert.deepEqual(r.read(30), d.subarray(0, 30));
    assert.equal(r.state, RecvState.DataRecvd);
    assert.deepEqual(r.read(), d.subarray(30));
    assert.equal(r.state, RecvState.DataRead);
    assert.equal(r.ended, true);
    assert.equal(r.read(), null);
    assert.equal(o.count('terminal'), 1);
    assert.equal(r.bufferCapacity, 0, 'memory released');
  });

  it('Recv -> Data Recvd in one frame; empty stream; lone FIN after the data was read', () => {
    const { r } = make();
    r.onStreamFrame(0, bytes(10), true);
    assert.equal(r.state, RecvState.DataRecvd);
    assert.equal(r.read()!.length, 10);
    assert.equal(r.state, RecvState.DataRead);

    const { r: e, o } = make();
    e.onStreamFrame(0, new Uint8Array(0), true);
    assert.equal(e.state, RecvState.DataRecvd);
    assert.equal(o.count('readable'), 1, 'end of stream is readable');
    assert.equal(e.read(), null);
    assert.equal(e.state, RecvState.DataRead);

    const { r: l, o: lo } = make();
    l.onStreamFrame(0, bytes(10), false);
    l.read();
    l.onStreamFrame(10, new Uint8Array(0), true);
    assert.equal(l.state, RecvState.DataRecvd);
    assert.equal(lo.count('readable'), 2);
    assert.equal(l.read(), null);
    assert.equal(l.ended, true);
  });

  it('Recv -> Reset Recvd -> Reset Read, discarding data; late data ignored', () => {
    const { r, o } = make();
    r.onStreamFrame(0, bytes(40), false);
    r.onResetStream(9n, 60);
    assert.equal(r.state, RecvState.ResetRecvd);
    assert.equal(r.resetCode, 9n);
    assert.equal(r.available, 0);
    assert.equal(r.bufferCapacity, 0);
    r.onStreamFrame(40, bytes(20), false); // within the final size: ignored
    assert.equal(r.read(), null, 'the read delivers the reset');
    assert.equal(r.state, RecvState.ResetRead);
    assert.equal(o.count('terminal'), 1);
  });

  it('Size Known -> Reset Recvd', () => {
    const { r } = make();
    r.onStreamFrame(0, bytes(10), true);
    const { r: s } = make();
    s.onStreamFrame(5, bytes(5), true);
    s.onResetStream(1, 10);
    assert.equal(s.state, RecvState.ResetRecvd);
    assert.equal(r.state, RecvState.DataRecvd);
  });

  it('Data Recvd: RESET_STREAM is suppressed, all data stays readable', () => {
    const { r } = make();
    const d = bytes(30);
    r.onStreamFrame(0, d, true);
    r.onResetStream(3, 30);
    assert.equal(r.state, RecvState.DataRecvd);
    assert.equal(r.resetCode, undefined);
    assert.deepEqual(r.read(), d);
    assert.equal(r.state, RecvState.DataRead);
  });

  it('readInto copies into the caller buffer', () => {
    const { r } = make();
    const d = bytes(100);
    r.onStreamFrame(0, d, false);
    const out = new Uint8Array(64);
    assert.equal(r.readInto(out, 4, 50), 50);
    assert.deepEqual(out.subarray(4, 54), d.subarray(0, 50));
    assert.equal(r.readInto(out), 50);
    assert.deepEqual(out.subarray(0, 50), d.subarray(50));
    assert.equal(r.readInto(out), 0);
  });
});

describe('RecvStream reassembly', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`reassembles shuffled, overlapping and duplicated pieces byte for byte (seed ${seed})`, () => {
      const rnd = new SeededRandom(seed);
      const total = 20_000 + rnd.int(20_000);
      const src = bytes(total, seed + 100);
      // Random pieces covering everything, plus random overlapping pieces and exact duplicates.
      const pieces: Array<[number, number]> = [];
      for (let o = 0; o < total; ) {
        const n = Math.min(total - o, rnd.int(1500));
        pieces.push([o, o + n]);
        o += n;
      }
      for (let i = 0; i < 40; i++) {
        const s = rnd.int(total);
        pieces.push([s, Math.min(total, s + rnd.int(3000))]);
        pieces.push(pieces[rnd.int(pieces.length)]!);
      }
      for (let i = pieces.length - 1; i > 0; i--) {
        const j = rnd.int(i + 1);
        [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
      }
      const { r } = make(64 * 1024);
      const out = new Uint8Array(total);
      let got = 0;
      for (const [s, e] of pieces) {
        r.onStreamFrame(s, src.subarray(s, e), e === total);
        if (rnd.int(3) === 0) got += r.readInto(out, got, rnd.int(4000));
        assert.ok(r.bufferCapacity <= 64 * 1024, 'never more than the window');
      }
      got += r.readInto(out, got);
      assert.equal(got, total);
      assert.deepEqual(out, src);
      assert.equal(r.ended, true);
    });
  }
});

describe('RecvStream final size (RFC 9000 §4.5)', () => {
  type Step = ['stream', number, number, boolean] | ['reset', number];
  const table: Array<[string, Step[], boolean]> = [
    ['FIN then a different FIN', [['stream', 0, 10, true], ['stream', 0, 11, true]], true],
    ['FIN then a smaller FIN', [['stream', 0, 10, true], ['stream', 0, 5, true]], true],
    ['FIN then data beyond it', [['stream', 0, 10, true], ['stream', 10, 1, false]], true],
    ['FIN below data already received', [['stream', 0, 10, false], ['stream', 0, 5, true]], true],
    ['RESET below data already received', [['stream', 0, 10, false], ['reset', 9]], true],
    ['RESET changing the FIN size', [['stream', 0, 10, true], ['reset', 11]], true],
    ['FIN changing the RESET size', [['reset', 10], ['stream', 0, 10, false], ['stream', 0, 12, true]], true],
    ['data beyond a RESET size', [['reset', 10], ['stream', 5, 6, false]], true],
    ['second RESET with another size', [['reset', 10], ['reset', 12]], true],
    ['same FIN twice', [['stream', 0, 10, true], ['stream', 5, 5, true]], false],
    ['RESET with the FIN size', [['stream', 0, 10, true], ['reset', 10]], false],
    ['data within the final size after FIN', [['stream', 5, 5, true], ['stream', 0, 5, false]], false],
    ['RESET equal to the highest offset', [['stream', 0, 10, false], ['reset', 10]], false],
    ['empty FIN at the highest offset', [['stream', 0, 10, false], ['stream', 10, 0, true]], false],
  ];
  for (const [name, steps, fails] of table) {
    it(`${fails ? 'FINAL_SIZE_ERROR' : 'accepted'}: ${name}`, () => {
      const { r } = make();
      const run = (): void => {
        for (const st of steps) {
          if (st[0] === 'stream') r.onStreamFrame(st[1], bytes(st[2]), st[3]);
          else r.onResetStream(0, st[1]);
        }
      };
      if (fails) assert.throws(run, code(TransportErrorCode.FINAL_SIZE_ERROR));
      else run();
    });
  }
});

describe('RecvStream flow control (RFC 9000 §4.1)', () => {
  const table: Array<[string, (r: RecvStream) => void, number]> = [
    ['data ending past the stream limit', (r) => r.onStreamFrame(990, bytes(11), false), TransportErrorCode.FLOW_CONTROL_ERROR],
    ['data exactly at the stream limit', (r) => r.onStreamFrame(990, bytes(10), false), 0],
    ['empty frame at an offset past the limit', (r) => r.onStreamFrame(1001, new Uint8Array(0), false), TransportErrorCode.FLOW_CONTROL_ERROR],
    ['saturated offset (2^62-1 read as 2^53-1)', (r) => r.onStreamFrame(Number.MAX_SAFE_INTEGER, bytes(1), false), TransportErrorCode.FLOW_CONTROL_ERROR],
    ['RESET final size past the limit', (r) => r.onResetStream(0, 1001), TransportErrorCode.FLOW_CONTROL_ERROR],
    ['past the connection limit (500) within the stream limit', (r) => r.onStreamFrame(0, bytes(501), false), TransportErrorCode.FLOW_CONTROL_ERROR],
    ['RESET past the connection limit', (r) => r.onResetStream(0, 600), TransportErrorCode.FLOW_CONTROL_ERROR],
  ];
  for (const [name, act, err] of table) {
    it(`${err ? 'FLOW_CONTROL_ERROR' : 'accepted'}: ${name}`, () => {
      const conn = new ReceiveWindow(500, 500);
      const { r } = make(1000, 1000, name.includes('connection') ? conn : null);
      if (err === 0) {
        act(r);
        return;
      }
      assert.throws(() => act(r), code(err));
      assert.equal(r.highestOffset, 0, 'nothing counted');
      assert.equal(r.bufferCapacity, 0, 'nothing buffered');
      assert.equal(conn.received, 0);
      assert.equal(r.state, RecvState.Recv);
    });
  }

  it('counts only the growth of the highest offset toward the connection', () => {
    const conn = new ReceiveWindow(1000, 1000);
    const { r } = make(1000, 1000, conn);
    r.onStreamFrame(100, bytes(100), false); // highest 200 (gap counts)
    r.onStreamFrame(0, bytes(150), false); // no growth
    assert.equal(conn.received, 200);
    r.read(150);
    assert.equal(conn.consumed, 150);
  });

  it('sends MAX_STREAM_DATA once half the window is consumed, only in Recv', () => {
    const { r, o } = make(1000);
    r.onStreamFrame(0, bytes(1000), false);
    r.read(500);
    assert.equal(r.maxStreamDataDue, false);
    r.read(1);
    assert.equal(r.maxStreamDataDue, true);
    assert.equal(o.count('control'), 1);
    assert.equal(r.takeMaxStreamData(0, 0), 1501);
    assert.equal(r.maxStreamDataDue, false);
    r.onMaxStreamDataLost(1501);
    assert.equal(r.takeMaxStreamData(1, 0), 1501, 'lost: re-sent');
    r.onMaxStreamDataAcked(1501);
    r.onMaxStreamDataLost(1501);
    assert.equal(r.maxStreamDataDue, false, 'acked: not re-sent');
    // Size Known: no more MAX_STREAM_DATA.
    r.onStreamFrame(1000, bytes(10), true);
    r.read();
    assert.equal(r.maxStreamDataDue, false);
  });

  it('auto-tunes: the window grows under fast consumption and drags the connection window', () => {
    const conn = new ReceiveWindow(4000, 100_000);
    const { r } = make(1000, 8000, conn);
    let now = 0;
    const rtt = 50;
    for (let i = 0; i < 6; i++) {
      const n = r.window.limit - r.highestOffset;
      r.onStreamFrame(r.highestOffset, bytes(n), false);
      r.read();
      now += 5; // reads a half window in 5 ms << 2 RTTs
      r.takeMaxStreamData(now, rtt);
      if (conn.updateDue) conn.advertise(now, 0); // srtt 0: no tuning of its own
    }
    assert.equal(r.window.window, 8000);
    assert.equal(conn.window, 12_000, 'connection window follows at 1.5x');
  });

  it('auto-tuning does not grow under slow consumption', () => {
    const { r } = make(1000, 8000);
    let now = 0;
    for (let i = 0; i < 20; i++) {
      if (r.window.limit > r.highestOffset) r.onStreamFrame(r.highestOffset, bytes(r.window.limit - r.highestOffset), false);
      r.read(100); // 100 bytes per second
      now += 1000;
      if (r.maxStreamDataDue) r.takeMaxStreamData(now, 20);
    }
    assert.equal(r.window.window, 1000);
  });
});

describe('RecvStream STOP_SENDING (RFC 9000 §3.5)', () => {
  it('requests STOP_SENDING once, discards data and returns connection credit', () => {
    const conn = new ReceiveWindow(1000, 1000);
    const { r, o } = make(1000, 1000, conn);
    r.onStreamFrame(0, bytes(300), false);
    r.stopSending(5);
    r.stopSending(6);
    assert.equal(o.count('control'), 1);
    assert.equal(r.takeStopSending(), 5);
    assert.equal(r.takeStopSending(), undefined);
    assert.equal(conn.consumed, 300, 'unread bytes returned');
    assert.equal(r.bufferCapacity, 0);
    r.onStreamFrame(300, bytes(200), false); // still counted (RFC 9000 §3.5), then discarded
    assert.equal(conn.received, 500);
    assert.equal(conn.consumed, 500);
    assert.equal(r.available, 0);
    assert.equal(r.bufferCapacity, 0);
    r.onStopSendingLost();
    assert.equal(r.takeStopSending(), 5, 'lost in Recv: re-sent');
    assert.equal(r.maxStreamDataDue, false, 'no credit for a stopped stream');
    r.onResetStream(5, 600);
    assert.equal(r.state, RecvState.ResetRead, 'terminal at once: nobody reads');
    assert.equal(conn.received, 600);
    assert.equal(conn.consumed, 600);
    r.onStopSendingLost();
    assert.equal(r.stopSendingDue, false, 'after the reset: not re-sent');
  });

  it('ends by itself when all the data arrives; in Data Recvd / Reset Recvd ends at once', () => {
    const { r } = make();
    r.stopSending(1);
    r.onStreamFrame(50, bytes(50), true);
    assert.equal(r.state, RecvState.SizeKnown);
    r.onStreamFrame(0, bytes(50), false);
    assert.equal(r.state, RecvState.DataRead);
    r.onStopSendingLost();
    assert.equal(r.stopSendingDue, false);

    const { r: d } = make();
    d.onStreamFrame(0, bytes(10), true);
    d.stopSending(1);
    assert.equal(d.state, RecvState.DataRead);
    assert.equal(d.stopSendingDue, false, 'all data here: no STOP_SENDING');
    assert.equal(d.ended, false, 'not a clean end for the reader');

    const { r: x } = make();
    x.onResetStream(1, 0);
    x.stopSending(1);
    assert.equal(x.state, RecvState.ResetRead);
    assert.equal(x.stopSendingDue, false);
  });
});
