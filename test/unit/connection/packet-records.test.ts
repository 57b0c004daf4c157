import assert from 'node:assert/strict';
import { PacketRecord } from '../../../src/quic/connection/sent-packet.js';
import type { Path } from '../../../src/quic/connection/path.js';
import { Pair, type PairOptions } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';

/**
 * PacketRecord's free list ([perf2]): the records of acknowledged packets are blanked and handed out
 * again, so a busy sender allocates none. What must hold: a recycled record is blank and leaves its
 * path behind, one record is never listed twice, and no record is recycled while anything still
 * holds it. The last is checked two ways over loss, reordering, duplication, a key update, datagrams
 * and a second path: with records never reused, a recycled record is poisoned (no path), so a late
 * reader would throw; and with reuse, the wire is byte for byte the wire without it (a record reused
 * while its packet was in flight would re-queue the wrong frames on loss, or credit the wrong path).
 */
describe('PacketRecord: acknowledged records are recycled ([perf2])', () => {
  const pathA = { address: 'a' } as unknown as Path;
  const pathB = { address: 'b' } as unknown as Path;
  type Take = (path: Path) => PacketRecord;
  type Recycle = (r: PacketRecord) => void;
  const statics = PacketRecord as unknown as { take: Take; recycle: Recycle };

  it('hands a recycled record back blank, on the new path, and lists a record once however often it is recycled', () => {
    while (PacketRecord.spare > 0) PacketRecord.take(pathA); // empty the list other tests filled
    const r = PacketRecord.take(pathA);
    r.sent(7, 12.5, 1200, true, true);
    r.addStream(4, 100, 1000, true);
    r.addAck(2, 9);
    r.add({ k: 'datagram' });
    r.add({ k: 'mtuProbe', size: 1500 });
    PacketRecord.recycle(r);
    PacketRecord.recycle(r);
    assert.equal(PacketRecord.spare, 1, 'listed once');
    assert.equal(r.path, null, 'a listed record holds no path (a closed connection would live on)');
    const again = PacketRecord.take(pathB);
    assert.equal(again, r, 'the recycled record is reused');
    assert.equal(again.path, pathB);
    assert.deepEqual(
      [again.pn, again.timeSent, again.size, again.ackEliciting, again.inFlight, again.count, again.mtuProbe, again.streamId, again.ackLargest, again.more],
      [0, 0, 0, false, false, 0, false, -1, -1, null],
    );
    assert.notEqual(PacketRecord.take(pathB), r, 'an empty list makes a new record');
  });

  it('keeps at most a bounded number of spare records', () => {
    for (let i = 0; i < 5000; i++) PacketRecord.recycle(new PacketRecord(pathA));
    assert.ok(PacketRecord.spare > 100 && PacketRecord.spare <= 1024, `${PacketRecord.spare} spare`);
  });

  interface Run {
    pair: Pair;
    recycled: number;
  }

  /** A transfer both ways plus datagrams and a key update; `reuse: false` never reuses a record. */
  const transfer = (reuse: boolean, opts: PairOptions, secondPath: boolean): Run => {
    const take = statics.take;
    const recycle = statics.recycle;
    let recycled = 0;
    statics.recycle = (r) => {
      recycled++;
      recycle(r);
    };
    if (!reuse) statics.take = (path) => new PacketRecord(path);
    try {
      const p = new Pair({ ...opts, trace: true });
      p.handshake();
      if (secondPath) {
        p.runFor(200); // the peer's path connection ids arrive
        assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:444'), { kind: 'opened', pathId: 1 });
        p.runFor(200);
        assert.equal(p.client.setPathStatus(0, 'backup'), true); // data leaves on path 1
      }
      const data = new Uint8Array(300_000).map((_, i) => i * 13 + (i >>> 9));
      const up = new StreamSender(p.client, data, 'bidi');
      const receiver = new StreamReceiver(() => p.server);
      for (let i = 0; i < 20; i++) p.client.sendDatagram(new Uint8Array(200).fill(i));
      run(p, [up, receiver], () => receiver.streams.get(up.id)?.ended === true);
      if (secondPath) {
        // and then on path 0 again, while path 1's packets are still being acknowledged
        assert.equal(p.client.setPathStatus(0, 'available'), true);
        assert.equal(p.client.setPathStatus(1, 'backup'), true);
      }
      assert.equal(p.client.initiateKeyUpdate(p.now), true);
      const more = new StreamSender(p.client, data.subarray(0, 80_000), 'uni');
      run(p, [more, receiver], () => receiver.streams.get(more.id)?.ended === true);
      assert.equal(receiver.streams.get(up.id)?.bytes, data.length);
      assert.equal(receiver.streams.get(more.id)?.bytes, 80_000);
      assert.equal(p.client.isClosed || p.server!.isClosed, false);
      if (secondPath) {
        const [zero, one] = p.client.paths();
        assert.ok(one!.packetsSent > 100 && zero!.packetsSent > 50, `both paths carried data (${zero!.packetsSent} and ${one!.packetsSent} packets)`);
      }
      return { pair: p, recycled };
    } finally {
      statics.take = take;
      statics.recycle = recycle;
    }
  };

  const cases: Array<[string, PairOptions, boolean]> = [
    ['3% loss, reordering, duplicates', { seed: testSeed(81), link: { delayMs: 5, jitterMs: 4, dropRate: 0.03, duplicateRate: 0.01 } }, false],
    ['multipath, a second path, 2% loss', {
      seed: testSeed(82),
      link: { delayMs: 8, jitterMs: 2, dropRate: 0.02 },
      clientTransport: { multipath: true, multipathMaxPathId: 3 },
      serverTransport: { multipath: true, multipathMaxPathId: 3 },
    }, true],
  ];
  for (const [name, opts, secondPath] of cases) {
    it(`${name}: a record is recycled only once nothing holds it, and reuse changes no byte on the wire`, () => {
      const poisoned = transfer(false, opts, secondPath);
      const reused = transfer(true, opts, secondPath);
      const a = poisoned.pair.trace;
      const b = reused.pair.trace;
      assert.ok(poisoned.recycled > 300, `records were recycled (${poisoned.recycled})`);
      assert.equal(reused.recycled, poisoned.recycled);
      assert.ok(poisoned.pair.client.getStats().packetsLost > 0, 'packets were lost');
      assert.equal(b.length, a.length);
      for (let i = 0; i < a.length; i++) {
        assert.equal(b[i]!.from, a[i]!.from);
        assert.deepEqual(b[i]!.bytes, a[i]!.bytes, `datagram ${i}`);
      }
    });
  }
});
