import assert from 'node:assert/strict';
import { Pair, type PairOptions } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { QlogRecorder, type QlogEvent, type QlogFrame, type QlogMetrics } from '../../../src/quic/connection/qlog.js';
import type { Connection } from '../../../src/quic/connection/connection.js';

/**
 * qlog tracing (issue #4) over the simulated pair: what the sinks of both connections receive for
 * a handshake, a small transfer and a close, exactly reconciled with the connections' own counters.
 */

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

interface Traced {
  readonly p: Pair;
  readonly client: QlogRecorder;
  readonly server: QlogRecorder;
  readonly data: Uint8Array;
  readonly streamId: number;
}

/** Handshake, `size` bytes client -> server on one stream, then an application close driven to termination. */
function tracedTransfer(opts: PairOptions, size: number): Traced {
  const client = new QlogRecorder();
  const server = new QlogRecorder();
  const p = new Pair({ ...opts, clientQlog: client, serverQlog: server });
  p.handshake();
  const data = payload(size);
  const tx = new StreamSender(p.client, data);
  const rx = new StreamReceiver(() => p.server);
  run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true, 120_000);
  assert.ok(bytesEqual(rx.data(tx.id), data));
  p.client.close(p.now, 7, 'bye');
  p.driveToTermination();
  return { p, client, server, data, streamId: tx.id };
}

const packets = (r: QlogRecorder, name: 'transport:packet_sent' | 'transport:packet_received') => r.named(name);

function framesOf(r: QlogRecorder, name: 'transport:packet_sent' | 'transport:packet_received', type: string): QlogFrame[] {
  return packets(r, name).filter((e) => e.data.header.packet_type === type).flatMap((e) => e.data.frames ?? []);
}

describe('connection: qlog tracing', () => {
  const seed = testSeed(401);
  let t: Traced;
  before(() => {
    t = tracedTransfer({ seed, link: { delayMs: 10 } }, 50_000);
  });

  it('every event has a time on the virtual clock, in order, and serialises to JSON', () => {
    for (const r of [t.client, t.server]) {
      assert.ok(r.events.length > 20);
      let last = -1;
      for (const e of r.events) {
        assert.equal(typeof e.time, 'number');
        assert.ok(Number.isFinite(e.time) && e.time >= last && e.time <= t.p.now, `${e.name} at ${e.time} after ${last}`);
        last = e.time;
        assert.doesNotThrow(() => JSON.stringify(e), e.name);
      }
    }
  });

  it('logs the transport parameters both ways, the peer\'s matching what it sent', () => {
    for (const [mine, theirs] of [[t.client, t.server], [t.server, t.client]] as const) {
      const local = mine.named('transport:parameters_set').filter((e) => e.data.owner === 'local');
      const remote = mine.named('transport:parameters_set').filter((e) => e.data.owner === 'remote');
      assert.equal(local.length, 1);
      assert.equal(remote.length, 1);
      const sentByPeer = theirs.named('transport:parameters_set').find((e) => e.data.owner === 'local')!;
      assert.deepEqual({ ...remote[0]!.data, owner: 'x' }, { ...sentByPeer.data, owner: 'x' });
    }
    const serverLocal = t.server.named('transport:parameters_set')[0]!.data;
    assert.equal(serverLocal.owner, 'local');
    assert.equal(typeof serverLocal.original_destination_connection_id, 'string', 'the server sends original_destination_connection_id');
    assert.equal(serverLocal.stateless_reset_token?.length, 32);
  });

  it('logs sent and received packets of every space, as many as the connections counted, sizes adding up to the datagrams', () => {
    for (const [r, c, sent] of [[t.client, t.p.client, t.p.clientSent], [t.server, t.p.server!, t.p.serverSent]] as const) {
      const s = (c as Connection).getStats();
      for (const type of ['initial', 'handshake', '1RTT']) {
        assert.ok(packets(r, 'transport:packet_sent').some((e) => e.data.header.packet_type === type), `${type} sent`);
        assert.ok(packets(r, 'transport:packet_received').some((e) => e.data.header.packet_type === type), `${type} received`);
      }
      assert.equal(packets(r, 'transport:packet_sent').length, s.packetsSent);
      assert.equal(packets(r, 'transport:packet_received').length, s.packetsReceived);
      // Datagrams are coalesced packets: the packet sizes add up to the datagram sizes exactly.
      const packetBytes = packets(r, 'transport:packet_sent').reduce((n, e) => n + e.data.raw.length, 0);
      assert.equal(packetBytes, sent.reduce((n, x) => n + x, 0));
      // Packet numbers increase by one per space.
      for (const type of ['initial', 'handshake', '1RTT']) {
        const pns = packets(r, 'transport:packet_sent').filter((e) => e.data.header.packet_type === type).map((e) => e.data.header.packet_number);
        assert.deepEqual(pns, pns.map((_, i) => i));
      }
    }
  });

  it('lists the frames with their key fields', () => {
    // The client's first Initial: the ClientHello from offset 0, padded to 1200 bytes.
    const first = packets(t.client, 'transport:packet_sent')[0]!;
    assert.equal(first.data.header.packet_type, 'initial');
    assert.equal(first.data.header.packet_number, 0);
    assert.equal(first.data.raw.length, 1200);
    assert.equal(first.data.frames![0]!.frame_type, 'crypto');
    assert.deepEqual(first.data.frames![0], { frame_type: 'crypto', offset: 0, length: (first.data.frames![0] as { length: number }).length });
    assert.ok(first.data.frames!.some((f) => f.frame_type === 'padding'));

    // The stream, as the client sent it and the server received it: contiguous offsets, one FIN at the end.
    for (const [r, name] of [[t.client, 'transport:packet_sent'], [t.server, 'transport:packet_received']] as const) {
      const stream = framesOf(r, name, '1RTT').filter((f): f is Extract<QlogFrame, { frame_type: 'stream' }> => f.frame_type === 'stream' && f.stream_id === t.streamId);
      assert.equal(stream.reduce((n, f) => n + f.length, 0), t.data.length, 'no loss: every byte sent once');
      let next = 0;
      for (const f of stream) {
        assert.equal(f.offset, next);
        next += f.length;
      }
      assert.deepEqual(stream.map((f) => f.fin).filter(Boolean).length, 1);
      assert.equal(stream.at(-1)!.fin, true);
    }

    // ACKs: ranges [smallest, largest] of packets the peer really sent.
    const acks = framesOf(t.server, 'transport:packet_sent', '1RTT').filter((f): f is Extract<QlogFrame, { frame_type: 'ack' }> => f.frame_type === 'ack');
    assert.ok(acks.length > 0);
    const clientPns = new Set(packets(t.client, 'transport:packet_sent').filter((e) => e.data.header.packet_type === '1RTT').map((e) => e.data.header.packet_number));
    for (const a of acks) {
      assert.ok(a.ack_delay >= 0);
      for (const [lo, hi] of a.acked_ranges) {
        assert.ok(lo <= hi);
        for (let pn = lo; pn <= hi; pn++) assert.ok(clientPns.has(pn), `acked ${pn} never sent`);
      }
    }
    assert.ok(framesOf(t.server, 'transport:packet_sent', '1RTT').some((f) => f.frame_type === 'handshake_done'));

    // The close: application code 7 and its reason, on both sides.
    const close = { frame_type: 'connection_close', error_space: 'application', error_code: 7, raw_error_code: 7, reason: 'bye' };
    assert.deepEqual(framesOf(t.client, 'transport:packet_sent', '1RTT').filter((f) => f.frame_type === 'connection_close')[0], close);
    assert.deepEqual(framesOf(t.server, 'transport:packet_received', '1RTT').filter((f) => f.frame_type === 'connection_close')[0], close);
  });

  it('logs metrics only when they change', () => {
    for (const r of [t.client, t.server]) {
      const m = r.named('recovery:metrics_updated');
      assert.ok(m.length > 2);
      const last: QlogMetrics = {};
      for (const e of m) {
        assert.ok(Object.keys(e.data).length > 0);
        for (const [k, v] of Object.entries(e.data) as Array<[keyof QlogMetrics, number]>) {
          assert.notEqual(last[k], v, `${k} repeated`);
          last[k] = v;
        }
      }
      assert.ok(last.smoothed_rtt! > 0 && last.min_rtt! > 19.99 && last.congestion_window! >= 2400);
    }
    // The first metrics event carries the initial state: RFC 9002 §6.2.2's 333 ms initial RTT.
    assert.equal(t.client.named('recovery:metrics_updated')[0]!.data.smoothed_rtt, 333);
  });

  it('logs the key installations, the state changes and the close on each side, then closes the sink', () => {
    const keys = (r: QlogRecorder) => r.named('security:key_updated').map((e) => `${e.data.key_type}/${e.data.trigger}`);
    for (const r of [t.client, t.server]) {
      assert.deepEqual(keys(r).sort(), [
        'client_1rtt_secret/tls', 'client_handshake_secret/tls', 'client_initial_secret/tls',
        'server_1rtt_secret/tls', 'server_handshake_secret/tls', 'server_initial_secret/tls',
      ]);
    }
    const states = (r: QlogRecorder) => r.named('connectivity:connection_state_updated').map((e) => e.data.new);
    assert.deepEqual(states(t.client), ['attempted', 'handshake_started', 'handshake_complete', 'handshake_confirmed', 'closing', 'closed']);
    assert.deepEqual(states(t.server), ['handshake_started', 'handshake_complete', 'handshake_confirmed', 'draining', 'closed']);
    assert.deepEqual(t.client.named('connectivity:connection_closed').map((e) => e.data), [{ owner: 'local', application_code: 7, reason: 'bye', trigger: 'application' }]);
    assert.deepEqual(t.server.named('connectivity:connection_closed').map((e) => e.data), [{ owner: 'remote', application_code: 7, reason: 'bye', trigger: 'application' }]);
    for (const r of [t.client, t.server]) {
      assert.equal(r.closed, true, 'the sink was closed at termination');
      assert.equal(r.events.at(-1)!.name, 'connectivity:connection_state_updated');
      assert.equal(r.named('recovery:packet_lost').length, 0, 'no loss on this link');
    }
  });

  it('a lossy run logs every lost packet, each one sent before in its space', () => {
    const r = tracedTransfer({ seed: testSeed(402), link: { delayMs: 10, dropRate: 0.05 }, clientTransport: { mtuDiscovery: false } }, 300_000);
    const lost = r.client.named('recovery:packet_lost');
    assert.ok(lost.length > 0, 'losses logged');
    assert.equal(lost.length, r.p.client.getStats().packetsLost, 'one event per packet the congestion controller counted lost');
    const sent = new Map<string, number>();
    for (const e of packets(r.client, 'transport:packet_sent')) sent.set(`${e.data.header.packet_type}/${e.data.header.packet_number}`, e.time);
    for (const e of lost) {
      const key = `${e.data.header.packet_type}/${e.data.header.packet_number}`;
      assert.ok(sent.has(key), `${key} lost but never sent`);
      assert.ok(sent.get(key)! <= e.time);
      assert.ok(e.data.trigger === 'reordering_threshold' || e.data.trigger === 'time_threshold');
    }
    // The lost data went again: some STREAM range is sent twice.
    const seen = new Set<string>();
    let again = 0;
    for (const f of framesOf(r.client, 'transport:packet_sent', '1RTT')) {
      if (f.frame_type !== 'stream') continue;
      const k = `${f.stream_id}/${f.offset}`;
      if (seen.has(k)) again++;
      seen.add(k);
    }
    assert.ok(again > 0, 'retransmissions visible in the trace');
  });

  it('logs dropped packets with their trigger: a duplicate, an undecryptable one', () => {
    const client = new QlogRecorder();
    const server = new QlogRecorder();
    const p = new Pair({ seed: testSeed(403), link: { delayMs: 5 }, clientQlog: client, serverQlog: server, trace: true });
    p.handshake();
    p.client.ping();
    p.runFor(50);
    const last = p.trace.filter((d) => d.from === 'client').at(-1)!.bytes;
    p.server!.handleDatagram(p.now, last.slice());
    const damaged = last.slice();
    damaged[damaged.length - 1]! ^= 0xff;
    p.server!.handleDatagram(p.now, damaged);
    const drops = server.named('transport:packet_dropped').map((e) => [e.data.header.packet_type, e.data.trigger, e.data.raw.length]);
    assert.deepEqual(drops.slice(-2), [['1RTT', 'duplicate', last.length], ['1RTT', 'decryption_failure', last.length]]);
    assert.equal(server.named('transport:packet_dropped').length, p.server!.getStats().packetsDropped);
  });

  it('logs key updates: local on the initiator, remote on the peer, with the generation', () => {
    const client = new QlogRecorder();
    const server = new QlogRecorder();
    const p = new Pair({ seed: testSeed(404), link: { delayMs: 10 }, clientQlog: client, serverQlog: server });
    p.handshake();
    p.runFor(100);
    assert.equal(p.client.initiateKeyUpdate(p.now), true);
    p.client.ping();
    p.runFor(100);
    const updates = (r: QlogRecorder) => r.named('security:key_updated').filter((e) => e.data.trigger !== 'tls').map((e) => [e.data.key_type, e.data.trigger, e.data.generation]);
    assert.deepEqual(updates(client), [['client_1rtt_secret', 'local_update', 1], ['server_1rtt_secret', 'local_update', 1]]);
    assert.deepEqual(updates(server), [['client_1rtt_secret', 'remote_update', 1], ['server_1rtt_secret', 'remote_update', 1]]);
  });

  it('attaches late with setQlog and detaches with undefined: nothing is traced or built without a sink', () => {
    const p = new Pair({ seed: testSeed(405), link: { delayMs: 10 } });
    assert.equal(p.client.internals.qlog, undefined);
    assert.equal(p.client.internals.transmitter.builder.onSealed, undefined);
    p.handshake();
    const late = new QlogRecorder();
    p.client.setQlog(late, p.now);
    // A late trace starts with what is known: both parameter sets and the current state.
    assert.deepEqual(late.events.slice(0, 4).map((e: QlogEvent) => e.name), [
      'transport:parameters_set', 'transport:parameters_set', 'connectivity:connection_state_updated', 'recovery:metrics_updated',
    ]);
    p.client.ping();
    p.runFor(100);
    assert.ok(late.named('transport:packet_sent').length > 0);
    p.client.setQlog(undefined, p.now);
    assert.equal(p.client.internals.qlog, undefined);
    assert.equal(p.client.internals.transmitter.builder.onSealed, undefined);
    const n = late.events.length;
    p.client.ping();
    p.runFor(100);
    assert.equal(late.events.length, n, 'no event after detaching');
    assert.equal(late.closed, false, 'detaching does not close the sink (its owner does)');
  });
});
