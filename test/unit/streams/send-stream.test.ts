import assert from 'node:assert/strict';
import { SendCredit } from '../../../src/quic/streams/flow-control.js';
import { SendStream, SendState } from '../../../src/quic/streams/send-stream.js';
import type { SendStreamOwner, StreamChunk } from '../../../src/quic/streams/send-stream.js';
import { StreamError, StreamResetError } from '../../../src/quic/streams/stream-error.js';
import { SeededRandom } from '../../../src/tls/random.js';

class Owner implements SendStreamOwner {
  calls: string[] = [];
  onSendable(): void {
    this.calls.push('sendable');
  }
  onSendControl(): void {
    this.calls.push('control');
  }
  onFrameTaken(): void {
    this.calls.push('taken');
  }
  onWritable(): void {
    this.calls.push('writable');
  }
  onSendTerminal(): void {
    this.calls.push('terminal');
  }
  count(what: string): number {
    return this.calls.filter((c) => c === what).length;
  }
}

function bytes(n: number, seed = 1): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

/** Takes a frame and copies its data, as the packet builder would. */
function take(s: SendStream, max: number): { offset: number; data: Uint8Array; fin: boolean; isNew: boolean } | null {
  const f: Readonly<StreamChunk> | null = s.nextFrame(max);
  if (f === null) return null;
  const data = new Uint8Array(f.length);
  s.writeData(data, 0, f.offset, f.length);
  return { offset: f.offset, data, fin: f.fin, isNew: f.isNew };
}

function make(limit = 1 << 20, opts: { bufferSize?: number; conn?: SendCredit } = {}): { s: SendStream; o: Owner } {
  const o = new Owner();
  const s = new SendStream(4, new SendCredit(limit), { owner: o, ...opts });
  return { s, o };
}

describe('SendStream states (RFC 9000 §3.1)', () => {
  it('Ready -> Send -> Data Sent -> Data Recvd', () => {
    const { s, o } = make();
    assert.equal(s.state, SendState.Ready);
    s.write(bytes(100));
    assert.equal(s.state, SendState.Ready, 'buffering keeps Ready');
    const a = take(s, 60)!;
    assert.deepEqual([a.offset, a.data.length, a.fin, a.isNew], [0, 60, false, true]);
    assert.equal(s.state, SendState.Send);
    s.finish();
    const b = take(s, 100)!;
    assert.deepEqual([b.offset, b.data.length, b.fin], [60, 40, true]);
    assert.equal(s.state, SendState.DataSent);
    assert.equal(s.nextFrame(100), null);
    s.onAcked(60, 40, true);
    assert.equal(s.state, SendState.DataSent, 'first frame not acked yet');
    s.onAcked(0, 60, false);
    assert.equal(s.state, SendState.DataRecvd);
    assert.equal(s.isTerminal, true);
    assert.equal(o.count('terminal'), 1);
  });

  it('Ready -> Data Sent in one frame (data + FIN), and a FIN-only stream', () => {
    const { s } = make();
    s.write(bytes(10));
    s.finish();
    const f = take(s, 100)!;
    assert.deepEqual([f.offset, f.data.length, f.fin], [0, 10, true]);
    assert.equal(s.state, SendState.DataSent);
    const { s: e } = make();
    e.finish();
    const g = take(e, 100)!;
    assert.deepEqual([g.offset, g.data.length, g.fin], [0, 0, true]);
    e.onAcked(0, 0, true);
    assert.equal(e.state, SendState.DataRecvd);
  });

  it('FIN after all data was sent goes out alone', () => {
    const { s } = make();
    s.write(bytes(10));
    take(s, 100);
    s.finish();
    const f = take(s, 100)!;
    assert.deepEqual([f.offset, f.data.length, f.fin], [10, 0, true]);
  });

  it('Ready -> Reset Sent -> Reset Recvd, final size 0', () => {
    const { s, o } = make();
    s.reset(7);
    assert.equal(s.state, SendState.ResetSent);
    assert.equal(o.count('control'), 1);
    assert.deepEqual(s.takeReset(), { code: 7, finalSize: 0 });
    assert.equal(s.takeReset(), null, 'taken once');
    s.onResetLost();
    assert.deepEqual(s.takeReset(), { code: 7, finalSize: 0 }, 'lost: due again');
    s.onResetAcked();
    assert.equal(s.state, SendState.ResetRecvd);
    s.onResetLost();
    assert.equal(s.resetDue, false, 'acked: never re-sent');
  });

  it('Send -> Reset Sent: final size is the highest offset sent, not the data written', () => {
    const { s } = make();
    s.write(bytes(1000));
    take(s, 300);
    s.reset(2n ** 62n - 1n);
    assert.equal(s.state, SendState.ResetSent);
    assert.deepEqual(s.takeReset(), { code: 2n ** 62n - 1n, finalSize: 300 });
    assert.equal(s.nextFrame(1000), null, 'no STREAM after RESET_STREAM');
    assert.equal(s.hasDataToSend, false);
    assert.throws(() => s.write(bytes(1)), (e: unknown) => e instanceof StreamResetError && !e.byPeer);
    s.onLost(0, 300, false);
    assert.equal(s.nextFrame(1000), null, 'no retransmission after reset');
    s.reset(9);
    assert.deepEqual(s.takeReset(), null, 'second reset has no effect');
  });

  it('Data Sent -> Reset Sent; reset in Data Recvd has no effect', () => {
    const { s } = make();
    s.write(bytes(10));
    s.finish();
    take(s, 100);
    s.reset(1);
    assert.equal(s.state, SendState.ResetSent);
    assert.equal(s.takeReset()!.finalSize, 10);
    const { s: t } = make();
    t.finish();
    take(t, 10);
    t.onAcked(0, 0, true);
    t.reset(1);
    assert.equal(t.state, SendState.DataRecvd);
    assert.equal(t.resetDue, false);
  });

  it('STREAM_DATA_BLOCKED moves Ready to Send', () => {
    const { s } = make(0);
    s.write(bytes(10));
    assert.equal(s.blockedDue, true);
    assert.equal(s.takeBlocked(), 0);
    assert.equal(s.state, SendState.Send);
  });

  it('misuse raises StreamError', () => {
    const { s } = make();
    s.finish();
    assert.throws(() => s.write(bytes(1)), StreamError);
    assert.throws(() => s.finish(), StreamError);
    const { s: t } = make();
    t.write(bytes(10));
    assert.throws(() => t.writeData(new Uint8Array(20), 0, 0, 20), StreamError);
  });
});

describe('SendStream buffer and backpressure', () => {
  it('write accepts only what fits and signals writable when the acked prefix is freed', () => {
    const { s, o } = make(1 << 20, { bufferSize: 1000 });
    assert.equal(s.write(bytes(600)), 600);
    assert.equal(s.write(bytes(600)), 400, 'only what fits');
    assert.equal(s.write(bytes(1)), 0);
    assert.equal(s.buffered, 1000);
    take(s, 300); // [0,300)
    take(s, 300); // [300,600)
    take(s, 400); // [600,1000)
    s.onAcked(300, 300, false);
    assert.equal(s.buffered, 1000, 'acked above a gap frees nothing');
    assert.equal(o.count('writable'), 0);
    s.onAcked(0, 300, false);
    assert.equal(s.ackedOffset, 600, 'prefix [0,600) freed');
    assert.equal(s.buffered, 400);
    assert.equal(o.count('writable'), 1);
    assert.equal(s.writableBytes, 600);
    assert.equal(s.write(bytes(600, 2)), 600);
  });

  it('delivers the exact bytes written across ring wrap-around (seeded)', () => {
    const rnd = new SeededRandom(42);
    const { s } = make(1 << 30, { bufferSize: 5000 });
    const src = bytes(100_000, 3);
    const out = new Uint8Array(src.length);
    let written = 0;
    let received = 0;
    while (received < src.length) {
      written += s.write(src.subarray(written, Math.min(src.length, written + rnd.int(3000))));
      const f = s.nextFrame(1 + rnd.int(1500));
      if (f === null) continue;
      s.writeData(out, f.offset, f.offset, f.length);
      s.onAcked(f.offset, f.length, f.fin);
      received = s.ackedOffset;
    }
    assert.deepEqual(out, src);
  });
});

describe('SendStream loss recovery', () => {
  it('retransmits only the parts not acked since, before new data, with the same bytes', () => {
    const { s } = make();
    const src = bytes(2000);
    s.write(src);
    const frames = [take(s, 250)!, take(s, 250)!, take(s, 250)!, take(s, 250)!]; // [0,1000)
    s.onAcked(250, 250, false); // frame 1 acked
    s.onAcked(600, 100, false); // part of frame 2 acked through another path
    for (const f of frames) s.onLost(f.offset, f.data.length, false);
    const re: Array<[number, number]> = [];
    for (;;) {
      const f = take(s, 1000)!;
      if (f.isNew) {
        assert.equal(f.offset, 1000, 'new data only after all retransmissions');
        break;
      }
      assert.deepEqual(f.data, src.subarray(f.offset, f.offset + f.data.length));
      re.push([f.offset, f.offset + f.data.length]);
    }
    assert.deepEqual(re, [
      [0, 250],
      [500, 600],
      [700, 1000],
    ]);
  });

  it('ignores loss reports for fully acked frames and spurious losses later acked', () => {
    const { s } = make();
    s.write(bytes(500));
    take(s, 500);
    s.onAcked(0, 500, false);
    s.onLost(0, 500, false);
    assert.equal(s.hasDataToSend, false);
    s.write(bytes(100));
    take(s, 100); // [500,600)
    s.onLost(500, 100, false);
    s.onAcked(500, 100, false); // the "lost" packet was acked after all
    assert.equal(s.hasDataToSend, false, 'nothing left to retransmit');
  });

  it('re-sends a lost FIN (alone when its data was acked)', () => {
    const { s } = make();
    s.write(bytes(100));
    s.finish();
    const f = take(s, 100)!;
    assert.equal(f.fin, true);
    s.onAcked(0, 50, false); // no-op duplicates are fine
    s.onLost(0, 100, true);
    const r = take(s, 1000)!;
    assert.deepEqual([r.offset, r.data.length, r.fin], [50, 50, true], 'unacked data re-sent with the FIN');
    s.onAcked(50, 50, false); // data acked via... the data only (FIN lost again)
    s.onLost(50, 50, true);
    const g = take(s, 1000)!;
    assert.deepEqual([g.offset, g.data.length, g.fin], [100, 0, true], 'lone FIN');
    s.onAcked(100, 0, true);
    assert.equal(s.state, SendState.DataRecvd);
  });

  it('a partially re-sent lost range keeps the FIN for its last piece', () => {
    const { s } = make();
    s.write(bytes(100));
    s.finish();
    take(s, 100);
    s.onLost(0, 100, true);
    const a = take(s, 60)!;
    const b = take(s, 60)!;
    assert.deepEqual([a.offset, a.data.length, a.fin], [0, 60, false]);
    assert.deepEqual([b.offset, b.data.length, b.fin], [60, 40, true]);
  });
});

describe('SendStream flow control', () => {
  it('stops at the stream limit and signals STREAM_DATA_BLOCKED once per limit', () => {
    const { s, o } = make(100);
    s.write(bytes(300));
    assert.equal(take(s, 1000)!.data.length, 100);
    assert.equal(s.hasDataToSend, false);
    assert.equal(s.blockedDue, true);
    assert.equal(o.count('control'), 1);
    assert.equal(s.takeBlocked(), 100);
    s.write(bytes(10));
    assert.equal(s.blockedDue, false, 'once per limit');
    s.onBlockedLost(100);
    assert.equal(s.takeBlocked(), 100, 'still blocked at 100: re-send');
    s.onMaxStreamData(50);
    assert.equal(s.credit.limit, 100, 'decrease ignored');
    s.onMaxStreamData(200);
    assert.equal(o.count('sendable') >= 2, true);
    s.onBlockedLost(100);
    assert.equal(s.blockedDue, false, 'limit raised: old BLOCKED not re-sent');
    assert.equal(take(s, 1000)!.data.length, 100);
    assert.equal(s.takeBlocked(), 200, 'blocked again at the new limit');
  });

  it('limits new data by connection credit but not retransmissions', () => {
    const conn = new SendCredit(150);
    const { s } = make(1 << 20, { conn });
    s.write(bytes(400));
    assert.equal(take(s, 1000)!.data.length, 150);
    assert.equal(conn.available, 0);
    assert.equal(s.hasDataToSend, false);
    assert.equal(s.blockedByConnection, true);
    s.onLost(0, 150, false);
    assert.equal(s.hasDataToSend, true);
    const r = take(s, 1000)!;
    assert.deepEqual([r.offset, r.data.length, r.isNew], [0, 150, false]);
    conn.raise(200);
    assert.equal(take(s, 1000)!.data.length, 50);
  });
});

describe('SendStream STOP_SENDING (RFC 9000 §3.5)', () => {
  for (const setup of ['Ready', 'Send', 'DataSent'] as const) {
    it(`in ${setup}: resets with the peer's code`, () => {
      const { s } = make();
      if (setup !== 'Ready') {
        s.write(bytes(50));
        if (setup === 'DataSent') s.finish();
        take(s, 100);
      }
      assert.equal(s.state, setup === 'Ready' ? SendState.Ready : setup === 'Send' ? SendState.Send : SendState.DataSent);
      s.onStopSending(0x42);
      assert.equal(s.state, SendState.ResetSent);
      assert.deepEqual(s.takeReset(), { code: 0x42, finalSize: setup === 'Ready' ? 0 : 50 });
      assert.throws(
        () => s.write(bytes(1)),
        (e: unknown) => e instanceof StreamResetError && e.byPeer && e.code === 0x42,
      );
    });
  }

  it('in Data Recvd / Reset Sent: ignored', () => {
    const { s } = make();
    s.finish();
    take(s, 1);
    s.onAcked(0, 0, true);
    s.onStopSending(1);
    assert.equal(s.state, SendState.DataRecvd);
    const { s: t } = make();
    t.reset(5);
    t.takeReset();
    t.onStopSending(6);
    assert.equal(t.resetCode, 5);
    assert.equal(t.resetDue, false);
  });
});
