import assert from 'node:assert/strict';
import { DatagramError, Datagrams, datagramOverhead } from '../../../src/quic/connection/datagrams.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';

const d = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

describe('datagrams (RFC 9221)', () => {
  it('refuses to send before the peer advertises support, with a clear error', () => {
    const q = new Datagrams();
    assert.equal(q.maxSize(1452, 8), undefined);
    assert.throws(() => q.send(d(10), 1452, 8), (e: unknown) => e instanceof DatagramError && e.kind === 'unsupported');
  });

  it('limits size by the path and by the peer, and rejects larger datagrams', () => {
    const q = new Datagrams();
    q.setPeerMaxFrameSize(65535);
    const max = q.maxSize(1452, 8)!;
    assert.equal(max, 1452 - datagramOverhead(8));
    q.send(d(max), 1452, 8);
    assert.throws(() => q.send(d(max + 1), 1452, 8), (e: unknown) => e instanceof DatagramError && e.kind === 'too-large' && /exceeds the current maximum/.test(e.message));
    q.setPeerMaxFrameSize(100);
    assert.equal(q.maxSize(1452, 8), 100 - 1 - 2, 'frame type and a 2-byte length count against the peer limit');
  });

  it('copies on send, sends in order, and drops the oldest when the queue is full', () => {
    const q = new Datagrams({ sendQueueCount: 3 });
    q.setPeerMaxFrameSize(65535);
    const a = d(10, 1);
    q.send(a, 1452, 8);
    a.fill(9);
    for (let i = 2; i <= 4; i++) q.send(d(10, i), 1452, 8);
    assert.equal(q.stats.droppedSend, 1);
    const order: number[] = [];
    for (let x = q.peek(); x; x = q.peek()) {
      order.push(x[0]!);
      q.onSent();
    }
    assert.deepEqual(order, [2, 3, 4]);
    assert.equal(q.stats.sent, 3);
    q.onAcked();
    q.onLost();
    assert.deepEqual([q.stats.acked, q.stats.lost], [1, 1]);
  });

  it('reports what became of each queued datagram: ids in order, sent or dropped with why, one event until taken', () => {
    const events: Array<{ type: string }> = [];
    const q = new Datagrams({ sendQueueCount: 2 }, { push: (e) => events.push(e) });
    q.setPeerMaxFrameSize(65535);
    assert.deepEqual([0, 1, 2].map((i) => q.send(d(10, i), 1452, 8)), [0, 1, 2]);
    // The third pushed the first out of the full queue.
    assert.deepEqual(events, [{ type: 'datagramsSent' }]);
    q.onSent(); // id 1
    assert.equal(events.length, 1, 'one event until the report is taken');
    assert.deepEqual(q.takeSendReport(), { settledBelow: 2, dropped: [{ id: 0, reason: 'queue-full' }] });
    assert.deepEqual(q.takeSendReport(), { settledBelow: 2, dropped: [] }, 'a report is taken once');
    q.dropHead(); // id 2: the path MTU shrank below it
    assert.equal(events.length, 2);
    assert.deepEqual(q.takeSendReport(), { settledBelow: 3, dropped: [{ id: 2, reason: 'too-large' }] });
    assert.equal(q.send(d(10), 1452, 8), 3);
    q.onSent();
    assert.deepEqual(q.takeSendReport(), { settledBelow: 4, dropped: [] });
    assert.equal(events.length, 3);
  });

  it('bounds the send queue by bytes too', () => {
    const q = new Datagrams({ sendQueueBytes: 2500 });
    q.setPeerMaxFrameSize(65535);
    for (let i = 0; i < 3; i++) q.send(d(1000, i), 1452, 8);
    assert.equal(q.queuedCount, 2);
    assert.equal(q.peek()![0], 1);
  });

  it('receives into a bounded queue, copying out of the packet', () => {
    const q = new Datagrams({ recvQueueCount: 2 });
    const pkt = d(5, 7);
    q.onReceived(pkt, 7, 0x31);
    pkt.fill(0);
    q.onReceived(d(5, 8), 7, 0x31);
    q.onReceived(d(5, 9), 7, 0x31);
    assert.equal(q.stats.droppedRecv, 1);
    assert.equal(q.recv()![0], 8);
    assert.equal(q.recv()![0], 9);
    assert.equal(q.recv(), undefined);
  });

  it('treats unsolicited or oversized DATAGRAM frames as PROTOCOL_VIOLATION', () => {
    const off = new Datagrams({ maxFrameSize: 0 });
    assert.throws(() => off.onReceived(d(1), 2, 0x30), (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION && e.frameType === 0x30);
    const small = new Datagrams({ maxFrameSize: 100 });
    small.onReceived(d(97), 100, 0x31);
    assert.throws(() => small.onReceived(d(98), 101, 0x31), (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('keeps queues compact under sustained traffic', () => {
    const q = new Datagrams();
    q.setPeerMaxFrameSize(65535);
    for (let i = 0; i < 10_000; i++) {
      q.send(d(20), 1452, 8);
      q.onSent();
      q.onReceived(d(20), 22, 0x31);
      q.recv();
    }
    assert.equal(q.queuedCount, 0);
    assert.equal(q.receivedCount, 0);
  });
});
