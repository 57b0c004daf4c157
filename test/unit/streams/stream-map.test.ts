import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { StreamMap } from '../../../src/quic/streams/stream-map.js';
import type { PeerStreamParams, Stream, StreamControlFrame, StreamEvent, StreamLimits } from '../../../src/quic/streams/stream-map.js';
import type { Role } from '../../../src/quic/streams/stream-id.js';
import { SeededRandom } from '../../../src/tls/random.js';

const code = (c: number) => (e: unknown): boolean => e instanceof TransportError && e.code === c;
const bytes = (n: number, seed = 1): Uint8Array => new SeededRandom(seed).fill(new Uint8Array(n));

const PEER: PeerStreamParams = {
  initialMaxData: 1 << 30,
  initialMaxStreamDataBidiLocal: 1 << 20,
  initialMaxStreamDataBidiRemote: 1 << 20,
  initialMaxStreamDataUni: 1 << 20,
  initialMaxStreamsBidi: 10,
  initialMaxStreamsUni: 10,
};

function map(role: Role, limits: Partial<StreamLimits> = {}, peer: Partial<PeerStreamParams> = {}): StreamMap {
  const m = new StreamMap(role, limits);
  m.setPeerParams({ ...PEER, ...peer });
  return m;
}

function drainControl(m: StreamMap, now = 0, rtt = 0): StreamControlFrame[] {
  const out: StreamControlFrame[] = [];
  for (let f = m.pollControlFrame(now, rtt); f !== null; f = m.pollControlFrame(now, rtt)) out.push(f);
  return out;
}

function drainEvents(m: StreamMap): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (let e = m.pollEvent(); e !== null; e = m.pollEvent()) out.push(e);
  return out;
}

function opened(m: StreamMap, dir: 'bidi' | 'uni'): Stream {
  const r = m.open(dir);
  assert.equal(r.kind, 'opened');
  return (r as { stream: Stream }).stream;
}

describe('StreamMap: STREAM_STATE_ERROR per frame and stream type (RFC 9000 §19.4-19.13)', () => {
  type Frame = 'STREAM' | 'RESET_STREAM' | 'STREAM_DATA_BLOCKED' | 'MAX_STREAM_DATA' | 'STOP_SENDING';
  const send = (m: StreamMap, f: Frame, id: number): void => {
    switch (f) {
      case 'STREAM':
        return m.onStreamFrame(id, 0, bytes(1), false);
      case 'RESET_STREAM':
        return m.onResetStream(id, 0, 0);
      case 'STREAM_DATA_BLOCKED':
        return m.onStreamDataBlocked(id, 0);
      case 'MAX_STREAM_DATA':
        return m.onMaxStreamData(id, 100);
      case 'STOP_SENDING':
        return m.onStopSending(id, 0);
    }
  };
  // Stream kinds from the server's point of view (the client is the peer).
  // ok: accepted; state: STREAM_STATE_ERROR.
  type Kind = 'peer bidi' | 'peer uni' | 'own bidi (opened)' | 'own uni (opened)' | 'own bidi (not opened)' | 'own uni (not opened)';
  const ids: Record<Kind, number> = {
    'peer bidi': 0,
    'peer uni': 2,
    'own bidi (opened)': 1,
    'own uni (opened)': 3,
    'own bidi (not opened)': 5,
    'own uni (not opened)': 7,
  };
  const expect: Record<Frame, Record<Kind, 'ok' | 'state'>> = {
    STREAM: { 'peer bidi': 'ok', 'peer uni': 'ok', 'own bidi (opened)': 'ok', 'own uni (opened)': 'state', 'own bidi (not opened)': 'state', 'own uni (not opened)': 'state' },
    RESET_STREAM: { 'peer bidi': 'ok', 'peer uni': 'ok', 'own bidi (opened)': 'ok', 'own uni (opened)': 'state', 'own bidi (not opened)': 'state', 'own uni (not opened)': 'state' },
    STREAM_DATA_BLOCKED: { 'peer bidi': 'ok', 'peer uni': 'ok', 'own bidi (opened)': 'ok', 'own uni (opened)': 'state', 'own bidi (not opened)': 'state', 'own uni (not opened)': 'state' },
    MAX_STREAM_DATA: { 'peer bidi': 'ok', 'peer uni': 'state', 'own bidi (opened)': 'ok', 'own uni (opened)': 'ok', 'own bidi (not opened)': 'state', 'own uni (not opened)': 'state' },
    STOP_SENDING: { 'peer bidi': 'ok', 'peer uni': 'state', 'own bidi (opened)': 'ok', 'own uni (opened)': 'ok', 'own bidi (not opened)': 'state', 'own uni (not opened)': 'state' },
  };
  for (const [frame, row] of Object.entries(expect) as Array<[Frame, Record<Kind, 'ok' | 'state'>]>) {
    for (const [kind, outcome] of Object.entries(row) as Array<[Kind, 'ok' | 'state']>) {
      it(`${frame} on ${kind}: ${outcome === 'ok' ? 'accepted' : 'STREAM_STATE_ERROR'}`, () => {
        const m = map('server');
        opened(m, 'bidi'); // id 1
        opened(m, 'uni'); // id 3
        if (outcome === 'ok') send(m, frame, ids[kind]);
        else assert.throws(() => send(m, frame, ids[kind]), code(TransportErrorCode.STREAM_STATE_ERROR));
      });
    }
  }

  it('mirrors for the client role (client uni 2 is send-only, server uni 3 receive-only)', () => {
    const m = map('client');
    opened(m, 'uni'); // id 2
    assert.throws(() => m.onStreamFrame(2, 0, bytes(1), false), code(TransportErrorCode.STREAM_STATE_ERROR));
    assert.throws(() => m.onMaxStreamData(3, 10), code(TransportErrorCode.STREAM_STATE_ERROR));
    m.onStreamFrame(3, 0, bytes(1), false);
    m.onStopSending(2, 1);
  });
});

describe('StreamMap: stream limits and implicit opening (RFC 9000 §3.2, §4.6)', () => {
  it('creates all lower-numbered peer streams of the type, in order', () => {
    const m = map('server', { maxConcurrentBidiStreams: 5 });
    m.onStreamFrame(8, 0, bytes(3), false); // client bidi index 2
    assert.deepEqual(
      drainEvents(m).flatMap((e) => (e.type === 'incoming' ? [e.id] : [])),
      [0, 4, 8],
    );
    assert.equal(m.accept('bidi')!.id, 0);
    assert.equal(m.accept('bidi')!.id, 4);
    const s8 = m.accept('bidi')!;
    assert.equal(s8.id, 8);
    assert.equal(s8.recv!.available, 3);
    assert.equal(m.accept('bidi'), null);
    assert.equal(m.accept('uni'), null);
    m.onStreamFrame(4, 0, bytes(1), false); // existing, no new incoming
    assert.deepEqual(drainEvents(m).filter((e) => e.type === 'incoming'), []);
  });

  it('STREAM_LIMIT_ERROR beyond the advertised limit, for every frame that opens a stream', () => {
    const m = map('server', { maxConcurrentBidiStreams: 3, maxConcurrentUniStreams: 2 });
    m.onStreamFrame(8, 0, bytes(1), false); // index 2: the last allowed bidi
    assert.throws(() => m.onStreamFrame(12, 0, bytes(1), false), code(TransportErrorCode.STREAM_LIMIT_ERROR));
    assert.throws(() => m.onMaxStreamData(12, 10), code(TransportErrorCode.STREAM_LIMIT_ERROR));
    assert.throws(() => m.onStopSending(12, 0), code(TransportErrorCode.STREAM_LIMIT_ERROR));
    m.onResetStream(6, 0, 0); // uni index 1 < 2
    assert.throws(() => m.onResetStream(10, 0, 0), code(TransportErrorCode.STREAM_LIMIT_ERROR)); // uni index 2
  });

  it('uni limit counts separately; a saturated id is a limit error', () => {
    const m = map('server', { maxConcurrentBidiStreams: 1, maxConcurrentUniStreams: 2 });
    m.onStreamFrame(6, 0, bytes(1), false); // uni index 1 < 2
    assert.throws(() => m.onStreamFrame(10, 0, bytes(1), false), code(TransportErrorCode.STREAM_LIMIT_ERROR));
    assert.throws(() => m.onStreamFrame(Number.MAX_SAFE_INTEGER - 1, 0, bytes(1), false), code(TransportErrorCode.STREAM_LIMIT_ERROR));
  });

  it('open() respects the peer limit: blocked result, STREAMS_BLOCKED once per limit, then MAX_STREAMS', () => {
    const m = map('client', {}, { initialMaxStreamsBidi: 2 });
    assert.equal(opened(m, 'bidi').id, 0);
    assert.equal(opened(m, 'bidi').id, 4);
    assert.deepEqual(m.open('bidi'), { kind: 'blocked', limit: 2 });
    assert.deepEqual(m.open('bidi'), { kind: 'blocked', limit: 2 });
    assert.deepEqual(drainControl(m), [{ kind: 'streams_blocked', direction: 'bidi', limit: 2 }]);
    assert.deepEqual(m.open('bidi'), { kind: 'blocked', limit: 2 });
    assert.deepEqual(drainControl(m), [], 'once per limit');
    m.onControlLost({ kind: 'streams_blocked', direction: 'bidi', limit: 2 });
    assert.deepEqual(drainControl(m), [{ kind: 'streams_blocked', direction: 'bidi', limit: 2 }], 'still blocked: re-sent');
    m.onMaxStreams('bidi', 1);
    assert.deepEqual(m.open('bidi'), { kind: 'blocked', limit: 2 }, 'decrease ignored');
    m.onMaxStreams('bidi', 3);
    assert.deepEqual(drainEvents(m), [{ type: 'streams-available', direction: 'bidi' }]);
    m.onControlLost({ kind: 'streams_blocked', direction: 'bidi', limit: 2 });
    assert.deepEqual(drainControl(m), [], 'limit raised: not re-sent');
    assert.equal(opened(m, 'bidi').id, 8);
    assert.equal(opened(m, 'uni').id, 2, 'uni limit separate');
  });

  it('maps without streams share one empty map until their first stream: opening in one leaves the others empty', () => {
    const a = new StreamMap('client');
    const b = new StreamMap('client');
    a.setPeerParams(PEER);
    b.setPeerParams(PEER);
    const s = opened(a, 'bidi');
    assert.equal(a.size, 1);
    assert.equal(a.get(s.id), s);
    assert.equal(b.size, 0, 'the other map is still empty');
    assert.equal(b.get(s.id), undefined);
    assert.equal(new StreamMap('server').size, 0, 'a new map too');
  });

  it('before the peer parameters are known: blocked, without STREAMS_BLOCKED; then applied', () => {
    const m = new StreamMap('client');
    assert.deepEqual(m.open('uni'), { kind: 'blocked', limit: 0 });
    assert.deepEqual(drainControl(m), []);
    m.setPeerParams(PEER);
    assert.deepEqual(drainEvents(m), [{ type: 'streams-available', direction: 'uni' }]);
    const s = opened(m, 'uni');
    assert.equal(s.send!.credit.limit, PEER.initialMaxStreamDataUni);
    assert.equal(m.connSend.limit, PEER.initialMaxData);
    assert.deepEqual(m.localParams(), {
      initialMaxData: 5_000_000,
      initialMaxStreamDataBidiLocal: 1_250_000,
      initialMaxStreamDataBidiRemote: 1_250_000,
      initialMaxStreamDataUni: 1_250_000,
      initialMaxStreamsBidi: 100,
      initialMaxStreamsUni: 100,
    });
  });

  it('send credit of each stream type follows RFC 9000 §18.2 (bidi_local = streams the peer opens)', () => {
    const client = map('client', {}, { initialMaxStreamDataBidiLocal: 111, initialMaxStreamDataBidiRemote: 222, initialMaxStreamDataUni: 333 });
    assert.equal(opened(client, 'bidi').send!.credit.limit, 222);
    assert.equal(opened(client, 'uni').send!.credit.limit, 333);
    client.onStreamFrame(1, 0, bytes(1), false);
    assert.equal(client.get(1)!.send!.credit.limit, 111);
  });

  it('MAX_STREAMS / STREAMS_BLOCKED above 2^60 are FRAME_ENCODING_ERROR', () => {
    const m = map('client');
    assert.throws(() => m.onMaxStreams('uni', 2 ** 60 + 256), code(TransportErrorCode.FRAME_ENCODING_ERROR));
    assert.throws(() => m.onStreamsBlocked('bidi', 2 ** 61), code(TransportErrorCode.FRAME_ENCODING_ERROR));
    m.onMaxStreams('uni', 2 ** 60);
    const s = new StreamMap('client');
    assert.throws(() => s.setPeerParams({ ...PEER, initialMaxStreamsUni: 2 ** 61 }), code(TransportErrorCode.TRANSPORT_PARAMETER_ERROR));
  });

  it('extends MAX_STREAMS as peer streams close, keeping at most the configured number open', () => {
    const m = map('server', { maxConcurrentUniStreams: 16 });
    const frames: StreamControlFrame[] = [];
    let next = 0;
    // The peer keeps opening uni streams as fast as allowed; we read each to its end.
    for (let round = 0; round < 10; round++) {
      const limit = round === 0 ? 16 : (frames.filter((f) => f.kind === 'max_streams').at(-1) as { maximum: number }).maximum;
      for (; next < limit; next++) m.onStreamFrame(next * 4 + 2, 0, bytes(10), true);
      assert.throws(() => m.onStreamFrame(next * 4 + 2, 0, bytes(1), true), code(TransportErrorCode.STREAM_LIMIT_ERROR));
      for (let s = m.accept('uni'); s !== null; s = m.accept('uni')) {
        assert.equal(s.recv!.read()!.length, 10);
        assert.equal(s.recv!.ended, true);
      }
      assert.equal(m.size, 0, 'fully read peer uni streams are removed');
      frames.push(...drainControl(m));
    }
    const maxima = frames.filter((f) => f.kind === 'max_streams').map((f) => (f as { maximum: number }).maximum);
    assert.equal(maxima.length, 10);
    assert.deepEqual(maxima.slice(0, 3), [32, 48, 64], 'closed + concurrency');
    // Late frames on removed streams are ignored.
    m.onStreamFrame(2, 0, bytes(10), true);
    assert.equal(m.size, 0);
  });

  it('announces MAX_STREAMS only once an eighth of the limit closed; lost -> re-sent with the current value', () => {
    const m = map('server', { maxConcurrentBidiStreams: 16 });
    const close = (id: number): void => {
      m.onStreamFrame(id, 0, bytes(1), true);
      const s = m.get(id)!;
      s.recv!.read();
      s.send!.finish();
      const send = m.nextSendable()!;
      const f = send.nextFrame(100)!;
      m.onStreamFrameAcked(id, f.offset, f.length, f.fin);
    };
    close(0);
    assert.deepEqual(drainControl(m), [], 'one closed < 16/8');
    close(4);
    const first = drainControl(m);
    assert.deepEqual(first, [{ kind: 'max_streams', direction: 'bidi', maximum: 18 }]);
    close(8);
    close(12);
    const second = drainControl(m);
    assert.deepEqual(second, [{ kind: 'max_streams', direction: 'bidi', maximum: 20 }]);
    m.onControlLost(first[0]!);
    assert.deepEqual(drainControl(m), [], 'older value lost: the newer frame covers it');
    m.onControlLost(second[0]!);
    close(16);
    assert.deepEqual(drainControl(m), [{ kind: 'max_streams', direction: 'bidi', maximum: 21 }], 're-sent with the current value');
    m.onControlAcked({ kind: 'max_streams', direction: 'bidi', maximum: 21 });
    m.onControlLost({ kind: 'max_streams', direction: 'bidi', maximum: 21 });
    assert.deepEqual(drainControl(m), [], 'acked: not re-sent');
  });
});

describe('StreamMap: scheduling', () => {
  it('round-robin: 16 busy streams each get an equal share within one frame', () => {
    const m = map('client', {}, { initialMaxStreamsUni: 16 });
    const streams = Array.from({ length: 16 }, () => opened(m, 'uni'));
    for (const s of streams) s.send!.write(bytes(100_000));
    const sent = new Map<number, number>();
    for (let i = 0; i < 16 * 25 + 7; i++) {
      const s = m.nextSendable()!;
      const f = s.nextFrame(1000)!;
      sent.set(s.id, (sent.get(s.id) ?? 0) + f.length);
    }
    const shares = [...sent.values()];
    assert.equal(shares.length, 16);
    assert.ok(Math.max(...shares) - Math.min(...shares) <= 1000, `shares ${shares}`);
  });

  it('a stream offered but not used keeps its turn', () => {
    const m = map('client');
    const a = opened(m, 'uni');
    const b = opened(m, 'uni');
    a.send!.write(bytes(10_000));
    b.send!.write(bytes(10_000));
    assert.equal(m.nextSendable()!.id, a.id);
    assert.equal(m.nextSendable()!.id, a.id, 'no frame taken: no rotation');
    m.nextSendable()!.nextFrame(100);
    assert.equal(m.nextSendable()!.id, b.id);
  });

  it('priorities: higher first, round-robin within a level', () => {
    const m = map('client');
    const [lo, hi1, hi2] = [opened(m, 'uni'), opened(m, 'uni'), opened(m, 'uni')];
    m.setPriority(hi1.id, 5);
    m.setPriority(hi2.id, 5);
    for (const s of [lo, hi1, hi2]) s.send!.write(bytes(3000));
    const order: number[] = [];
    for (let s = m.nextSendable(); s !== null; s = m.nextSendable()) {
      s.nextFrame(1000);
      order.push(s.id);
    }
    assert.deepEqual(order, [hi1.id, hi2.id, hi1.id, hi2.id, hi1.id, hi2.id, lo.id, lo.id, lo.id]);
  });

  it('connection credit: parks streams, DATA_BLOCKED once per limit, MAX_DATA resumes them', () => {
    const m = map('client', {}, { initialMaxData: 1500 });
    const a = opened(m, 'uni');
    const b = opened(m, 'uni');
    a.send!.write(bytes(2000));
    b.send!.write(bytes(2000));
    let total = 0;
    for (let s = m.nextSendable(); s !== null; s = m.nextSendable()) total += s.nextFrame(1000)!.length;
    assert.equal(total, 1500);
    assert.deepEqual(drainControl(m), [{ kind: 'data_blocked', limit: 1500 }]);
    assert.equal(m.nextSendable(), null);
    assert.deepEqual(drainControl(m), [], 'once per limit');
    m.onControlLost({ kind: 'data_blocked', limit: 1500 });
    assert.deepEqual(drainControl(m), [{ kind: 'data_blocked', limit: 1500 }], 'still blocked: re-sent');
    m.onMaxData(1000);
    assert.equal(m.nextSendable(), null, 'decrease ignored');
    m.onMaxData(1 << 20);
    m.onControlLost({ kind: 'data_blocked', limit: 1500 });
    assert.deepEqual(drainControl(m), [], 'unblocked: not re-sent');
    for (let s = m.nextSendable(); s !== null; s = m.nextSendable()) total += s.nextFrame(1000)!.length;
    assert.equal(total, 4000);
  });

  it('an iroh-style unlimited initial_max_data (saturated 2^62-1) never blocks', () => {
    const m = map('client', {}, { initialMaxData: Number.MAX_SAFE_INTEGER });
    const a = opened(m, 'uni');
    a.send!.write(bytes(500_000));
    let total = 0;
    for (let s = m.nextSendable(); s !== null; s = m.nextSendable()) total += s.nextFrame(1200)!.length;
    assert.equal(total, 500_000);
    assert.deepEqual(drainControl(m), []);
  });
});

describe('StreamMap: control frames and flow control', () => {
  it('STOP_SENDING makes us reset with its code; RESET_STREAM re-sent on loss until acked', () => {
    const m = map('client');
    const s = opened(m, 'bidi');
    s.send!.write(bytes(100));
    m.nextSendable()!.nextFrame(60);
    m.onStopSending(s.id, 77);
    assert.deepEqual(drainEvents(m), [{ type: 'stopped', id: s.id, code: 77 }]);
    const frames = drainControl(m);
    assert.deepEqual(frames, [{ kind: 'reset_stream', streamId: s.id, code: 77, finalSize: 60 }]);
    assert.equal(m.nextSendable(), null, 'no more STREAM frames');
    m.onControlLost(frames[0]!);
    assert.deepEqual(drainControl(m), frames);
    m.onControlAcked(frames[0]!);
    assert.deepEqual(drainEvents(m), [{ type: 'sendDone', id: s.id }], 'the acknowledged reset ends the sending part');
    m.onControlLost(frames[0]!);
    assert.deepEqual(drainControl(m), []);
    m.onStopSending(s.id, 78);
    assert.deepEqual(drainEvents(m), [], 'second STOP_SENDING: nothing new');
  });

  it('connection receive limit: the sum of highest offsets over all streams', () => {
    const m = map('server', { initialConnectionWindow: 1000, maxConnectionWindow: 1000, initialStreamWindow: 800 });
    m.onStreamFrame(0, 0, bytes(600), false);
    m.onStreamFrame(4, 300, bytes(100), false); // highest 400 on stream 4
    assert.throws(() => m.onStreamFrame(8, 0, bytes(1), false), code(TransportErrorCode.FLOW_CONTROL_ERROR));
    assert.equal(m.connRecv.received, 1000);
    m.onResetStream(4, 0, 400); // same final size: no growth
    assert.throws(() => m.onResetStream(0, 0, 601), code(TransportErrorCode.FLOW_CONTROL_ERROR));
  });

  it('MAX_DATA once consumption crosses half the connection window; reset streams return their credit', () => {
    const m = map('server', { initialConnectionWindow: 1000, maxConnectionWindow: 1000, initialStreamWindow: 1000 });
    m.onStreamFrame(0, 0, bytes(400), false);
    m.onStreamFrame(4, 0, bytes(400), false);
    m.get(0)!.recv!.read();
    assert.deepEqual(drainControl(m), [], '400 of 1000 consumed');
    m.onResetStream(4, 1, 450); // 450 counted, none read: all returned to the connection
    const frames = drainControl(m);
    assert.deepEqual(frames, [{ kind: 'max_data', maximum: 1850 }]);
    m.onControlLost(frames[0]!);
    m.get(0)!.recv!.stopSending(0);
    assert.deepEqual(drainControl(m).filter((f) => f.kind === 'max_data'), [{ kind: 'max_data', maximum: 1850 }]);
  });

  it('lost MAX_STREAM_DATA is re-sent with the latest limit', () => {
    const m = map('server', { initialStreamWindow: 1000, maxStreamWindow: 1000 });
    m.onStreamFrame(0, 0, bytes(1000), false);
    const r = m.get(0)!.recv!;
    r.read(600);
    const first = drainControl(m);
    assert.deepEqual(first, [{ kind: 'max_stream_data', streamId: 0, maximum: 1600 }]);
    r.read(300);
    m.onControlLost(first[0]!);
    assert.deepEqual(drainControl(m), [{ kind: 'max_stream_data', streamId: 0, maximum: 1900 }]);
  });

  it('events: readable and writable are deduplicated until polled', () => {
    const m = map('server', { sendBufferSize: 100 });
    m.onStreamFrame(0, 0, bytes(10), false);
    m.onStreamFrame(0, 10, bytes(10), false);
    assert.deepEqual(drainEvents(m), [
      { type: 'incoming', id: 0, direction: 'bidi' },
      { type: 'readable', id: 0 },
    ]);
    const s = m.get(0)!;
    assert.equal(s.send!.write(bytes(150)), 100);
    const f = m.nextSendable()!.nextFrame(1000)!;
    m.onStreamFrameAcked(0, f.offset, 50, false);
    m.onStreamFrameAcked(0, 50, 50, false);
    assert.deepEqual(drainEvents(m), [{ type: 'writable', id: 0 }]);
  });

  it('removes a local bidi stream once both directions are done', () => {
    const m = map('client');
    const s = opened(m, 'bidi');
    s.send!.write(bytes(10));
    s.send!.finish();
    const f = m.nextSendable()!.nextFrame(100)!;
    m.onStreamFrame(s.id, 0, bytes(5), true);
    s.recv!.read();
    assert.equal(m.size, 1, 'send part not acked yet');
    m.onStreamFrameAcked(s.id, f.offset, f.length, f.fin);
    assert.equal(m.size, 0);
    assert.equal(s.removed, true);
    assert.ok(drainEvents(m).some((e) => e.type === 'streamClosed' && e.id === s.id));
    m.onStreamFrame(s.id, 0, bytes(5), true); // late duplicate: ignored
    m.onMaxStreamData(s.id, 1 << 30);
    assert.equal(m.size, 0);
  });
});

describe('StreamMap: two maps exchanging frames over a lossy link (seeded)', () => {
  for (const seed of [1, 2, 3]) {
    it(`16 bidi streams echo their data intact with 10% loss, small windows (seed ${seed})`, () => {
      const rnd = new SeededRandom(seed);
      const limits: Partial<StreamLimits> = {
        initialStreamWindow: 4000,
        maxStreamWindow: 16_000,
        initialConnectionWindow: 16_000,
        maxConnectionWindow: 64_000,
        sendBufferSize: 8000,
        maxConcurrentBidiStreams: 4,
      };
      const client = new StreamMap('client', limits);
      const server = new StreamMap('server', limits);
      client.setPeerParams(server.localParams());
      server.setPeerParams(client.localParams());
      const payloads = new Map<number, Uint8Array>();
      const pendingWrite = new Map<number, number>();
      const got = new Map<number, number[]>();
      const echoed = new Map<number, number[]>();
      let opened = 0;
      let now = 0;
      type Msg = { ctl: StreamControlFrame } | { id: number; offset: number; data: Uint8Array; fin: boolean };
      const deliver = (to: StreamMap, msg: Msg): void => {
        if ('ctl' in msg) {
          const f = msg.ctl;
          switch (f.kind) {
            case 'max_data': return to.onMaxData(f.maximum);
            case 'data_blocked': return to.onDataBlocked(f.limit);
            case 'max_stream_data': return to.onMaxStreamData(f.streamId, f.maximum);
            case 'stream_data_blocked': return to.onStreamDataBlocked(f.streamId, f.limit);
            case 'reset_stream': return to.onResetStream(f.streamId, f.code, f.finalSize);
            case 'stop_sending': return to.onStopSending(f.streamId, f.code);
            case 'max_streams': return to.onMaxStreams(f.direction, f.maximum);
            case 'streams_blocked': return to.onStreamsBlocked(f.direction, f.limit);
          }
        }
        to.onStreamFrame(msg.id, msg.offset, msg.data, msg.fin);
      };
      const pump = (from: StreamMap, to: StreamMap): void => {
        // One "packet": control frames then up to 3 stream frames; 10% lost, else acked.
        const msgs: Msg[] = [];
        for (let f = from.pollControlFrame(now, 20); f !== null; f = from.pollControlFrame(now, 20)) msgs.push({ ctl: f });
        for (let i = 0; i < 3; i++) {
          const s = from.nextSendable();
          if (s === null) break;
          const f = s.nextFrame(1 + rnd.int(1200));
          if (f === null) break;
          const data = new Uint8Array(f.length);
          s.writeData(data, 0, f.offset, f.length);
          msgs.push({ id: s.id, offset: f.offset, data, fin: f.fin });
        }
        const lost = rnd.int(10) === 0;
        for (const m of msgs) {
          if (!lost) deliver(to, m);
          if ('ctl' in m) {
            if (lost) from.onControlLost(m.ctl);
            else from.onControlAcked(m.ctl);
          } else if (lost) from.onStreamFrameLost(m.id, m.offset, m.data.length, m.fin);
          else from.onStreamFrameAcked(m.id, m.offset, m.data.length, m.fin);
        }
      };
      for (let step = 0; step < 20_000 && (opened < 16 || client.size > 0 || server.size > 0); step++) {
        now += 1;
        // Client opens streams as the limit allows and writes its payload.
        while (opened < 16) {
          const r = client.open('bidi');
          if (r.kind === 'blocked') break;
          const p = bytes(5000 + rnd.int(20_000), seed * 100 + opened);
          payloads.set(r.stream.id, p);
          pendingWrite.set(r.stream.id, 0);
          opened++;
        }
        for (const [id, off] of pendingWrite) {
          const s = client.get(id)!;
          const p = payloads.get(id)!;
          const n = s.send!.write(p.subarray(off));
          if (off + n === p.length) {
            s.send!.finish();
            pendingWrite.delete(id);
          } else pendingWrite.set(id, off + n);
        }
        // Server echoes what it reads; client collects echoes.
        for (let s = server.accept('bidi'); s !== null; s = server.accept('bidi')) got.set(s.id, []);
        for (const id of got.keys()) {
          const s = server.get(id);
          if (s === undefined) continue;
          // Read only what the echo can buffer (backpressure from the send buffer).
          const chunk = s.recv!.read(Math.min(3000, s.send!.writableBytes));
          if (chunk !== null) {
            got.get(id)!.push(...chunk);
            assert.equal(s.send!.write(chunk), chunk.length);
          }
          if (s.recv!.ended && s.send!.finOffset < 0) s.send!.finish();
        }
        for (const id of payloads.keys()) {
          const s = client.get(id);
          if (s === undefined) continue;
          const chunk = s.recv!.read();
          if (chunk !== null) {
            if (!echoed.has(id)) echoed.set(id, []);
            echoed.get(id)!.push(...chunk);
          }
        }
        pump(client, server);
        pump(server, client);
      }
      assert.equal(opened, 16);
      assert.equal(client.size, 0, 'all client streams closed and removed');
      assert.equal(server.size, 0, 'all server streams closed and removed');
      for (const [id, p] of payloads) assert.deepEqual(Uint8Array.from(echoed.get(id) ?? []), p, `stream ${id}`);
    });
  }
});
