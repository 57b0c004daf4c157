import assert from 'node:assert/strict';
import { QlogRecorder, type QlogEvent } from '../../../src/quic/connection/qlog.js';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';

/** Frames of `type` the qlog saw the client send, with their times. */
function sent(events: readonly QlogEvent[], type: string): Array<{ t: number; frame: Record<string, unknown> }> {
  const out: Array<{ t: number; frame: Record<string, unknown> }> = [];
  for (const e of events) {
    if (e.name !== 'transport:packet_sent') continue;
    for (const f of ((e.data as { frames?: Array<Record<string, unknown>> }).frames ?? [])) if (f['frame_type'] === type) out.push({ t: e.time, frame: f });
  }
  return out;
}

describe('flow control: STREAM_DATA_BLOCKED goes out when the sender blocks (RFC 9000 §4.1)', () => {
  for (const multipath of [false, true]) {
    it(`a stream blocked at the peer's stream limit says so within one RTT, once per limit${multipath ? ' (multipath negotiated)' : ''}`, () => {
      const q = new QlogRecorder();
      const p = new Pair({
        seed: testSeed(801),
        link: { delayMs: 10 },
        clientTransport: { multipath, streams: { initialStreamWindow: 100_000, maxStreamWindow: 100_000 } },
        serverTransport: { multipath, streams: { initialStreamWindow: 100_000, maxStreamWindow: 100_000 } },
        clientQlog: q,
      });
      p.handshake();
      p.runFor(100);
      const id = p.client.openStream('bidi')!;
      // The server's application never reads: the stream stays blocked at 100,000.
      const data = new Uint8Array(300_000);
      let written = p.client.writeStream(id, data);
      const start = p.now;
      for (let i = 0; i < 2000 && p.now - start < 2_000; i++) {
        if (written < data.length) written += p.client.writeStream(id, data.subarray(written));
        p.step();
      }
      // When the last byte the limit allows left (a STREAM frame ending at 100,000).
      const last = sent(q.events, 'stream').find((f) => Number(f.frame['offset']) + Number(f.frame['length']) === 100_000);
      assert.ok(last, 'the stream reached its limit');
      const blockedAt = last.t;
      const frames = sent(q.events, 'stream_data_blocked');
      assert.ok(frames.length >= 1, 'STREAM_DATA_BLOCKED sent');
      assert.equal(frames[0]!.frame['limit'], 100_000);
      assert.ok(frames[0]!.t - blockedAt <= 25, `sent ${frames[0]!.t - blockedAt} ms after the stream blocked`);
      assert.equal(frames.length, 1, 'once per limit (not lost here)');
    });
  }
});
