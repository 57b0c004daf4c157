import assert from 'node:assert/strict';
import { Pair, type PairOptions } from '../../harness/pair.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { TicketKeys, type ResumptionTicket, type ServerTickets } from '../../../src/tls/resumption.js';
import { StrikeRegister } from '../../../src/tls/anti-replay.js';
import { LongPacketType, tryParsePacketHeader } from '../../../src/quic/packet/header.js';
import type { Connection } from '../../../src/quic/connection/connection.js';

/**
 * 0-RTT over a Pair on virtual time (RFC 9001 §4.6, RFC 9000 §7.4.1): a first connection gets a
 * ticket that allows early data; a second one sends stream data and datagrams in 0-RTT packets.
 */

/** The TLS clocks (ms): ticket issue and age, the same for both ends. */
const T0 = 1_000_000;
const tlsNow = (): number => T0;

function serverTickets(over: Partial<ServerTickets> = {}): ServerTickets {
  return { keys: new TicketKeys(new SeededRandom(9), T0), count: 2, lifetimeS: 3600, now: tlsNow, maxEarlyData: 0xffffffff, replay: new StrikeRegister(), ...over };
}

/** A first connection to a server issuing `st`'s tickets: the ticket the client keeps. */
function firstTicket(st: ServerTickets, opts: PairOptions = {}): ResumptionTicket {
  const p = new Pair({ seed: 5, ...opts, serverTls: { tickets: st, ...opts.serverTls }, clientTls: { now: tlsNow, ...opts.clientTls } });
  p.handshake();
  p.runFor(200);
  const e = p.clientEvents.find((x) => x.type === 'sessionTicket');
  assert.ok(e && e.type === 'sessionTicket', 'the first connection got a ticket');
  return e.ticket;
}

/** A second connection offering `ticket` with early data (not yet stepped). */
function resumed(st: ServerTickets, ticket: ResumptionTicket, opts: PairOptions = {}): Pair {
  return new Pair({ seed: 5, ...opts, serverTls: { tickets: st, ...opts.serverTls }, clientTls: { now: tlsNow, resumption: ticket, earlyData: true, ...opts.clientTls } });
}

/** Everything readable on stream `id` of `c` now. */
function readAll(c: Connection, id: number): Uint8Array {
  const parts: Uint8Array[] = [];
  try {
    for (let b = c.readStream(id); b && b.length > 0; b = c.readStream(id)) parts.push(b.slice());
  } catch {
    // The FIN was read: the stream is gone.
  }
  return Buffer.concat(parts);
}

/** Long-header packet types in a datagram (0-RTT is 1). */
function longTypes(d: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at < d.length; ) {
    const h = tryParsePacketHeader(d, at, 8);
    if (h.kind !== 'long') break;
    out.push(h.type);
    at = h.end;
  }
  return out;
}

describe('0-RTT (RFC 9001 §4.6, RFC 9000 §7.4.1)', () => {
  it('accepted: stream data sent in 0-RTT arrives before the server completes the handshake; 0.5-RTT answer', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    assert.equal(ticket.maxEarlyData, 0xffffffff, 'QUIC tickets say 0xffffffff (RFC 9001 §4.6.1)');
    const p = resumed(st, ticket, { trace: true });
    assert.equal(p.client.earlyData, 'offered');
    const id = p.client.openStream('bidi');
    assert.notEqual(id, null, 'the remembered stream limit allows a stream before the handshake');
    p.client.writeStream(id!, new TextEncoder().encode('GET /'));
    p.client.finishStream(id!);
    p.flush();
    assert.deepEqual(longTypes(p.trace[0]!.bytes), [LongPacketType.Initial, LongPacketType.ZeroRtt], 'the first datagram: Initial + 0-RTT');
    p.drive(() => p.serverEvents.some((e) => e.type === 'incoming'));
    const server = p.server!;
    assert.equal(server.handshakeComplete, false, 'the request is there before the client Finished');
    assert.equal(server.earlyData, 'accepted');
    assert.equal(new TextDecoder().decode(readAll(server, id!)), 'GET /');
    // The server answers at once (0.5-RTT), before its handshake completes.
    server.writeStream(id!, new TextEncoder().encode('200'));
    server.finishStream(id!);
    p.drive(() => p.clientEvents.some((e) => e.type === 'readable' && e.id === id));
    assert.equal(new TextDecoder().decode(readAll(p.client, id!)), '200');
    // The answer came in the server's first flight (1-RTT, RFC 9001 §4.1.4), not after the client
    // Finished: a server that sealed it as 0-RTT (which a client drops) got it through only by
    // retransmitting once its handshake had completed.
    assert.equal(server.handshakeComplete, false, 'the 0.5-RTT answer arrived before the server completed');
    for (const d of p.trace) if (d.from === 'server') assert.ok(!longTypes(d.bytes).includes(LongPacketType.ZeroRtt), 'a server never sends 0-RTT');
    p.handshake();
    assert.equal(p.client.earlyData, 'accepted');
    assert.equal(p.client.resumed, true);
    assert.deepEqual(p.clientEvents.filter((e) => e.type === 'earlyData'), [{ type: 'earlyData', accepted: true }]);
    // RFC 9001 §4.9.3: no 0-RTT packet once 1-RTT keys are there.
    const before = p.trace.length;
    p.client.writeStream(p.client.openStream('uni')!, new Uint8Array(100));
    p.runFor(100);
    for (const d of p.trace.slice(before)) if (d.from === 'client') assert.ok(!longTypes(d.bytes).includes(LongPacketType.ZeroRtt));
  });

  it('rejected (server 0-RTT off): the data is re-sent in 1-RTT, intact, and nothing was processed early', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const p = resumed({ ...st, maxEarlyData: 0 }, ticket);
    const id = p.client.openStream('bidi')!;
    const data = new Uint8Array(3000).map((_, i) => i & 0xff);
    p.client.writeStream(id, data);
    p.client.finishStream(id);
    p.drive(() => p.server !== undefined && p.server.earlyData !== 'none');
    assert.equal(p.server!.earlyData, 'rejected');
    assert.equal(p.server!.acceptStream('bidi'), null, 'no 0-RTT frame was processed');
    p.handshake();
    assert.equal(p.client.earlyData, 'rejected');
    assert.equal(p.client.resumed, true, 'the resumption itself succeeded');
    p.drive(() => p.serverEvents.some((e) => e.type === 'readable' && e.id === id));
    p.runFor(500);
    assert.deepEqual(readAll(p.server!, id), Buffer.from(data));
  });

  it('a replayed first flight gets its early data refused (single-use ticket); the handshake still resumes', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const write = (p: Pair): number => {
      const id = p.client.openStream('bidi')!;
      p.client.writeStream(id, new TextEncoder().encode('pay 10'));
      p.client.finishStream(id);
      return id;
    };
    const a = resumed(st, ticket, { trace: true });
    write(a);
    a.handshake();
    assert.equal(a.server!.earlyData, 'accepted');
    // Same seed, same clock: the same bytes, as an attacker's copy of the first flight would be.
    const b = resumed(st, ticket, { trace: true });
    const id = write(b);
    b.flush();
    assert.deepEqual(b.trace[0]!.bytes, a.trace[0]!.bytes, 'a byte-exact replay');
    b.drive(() => b.server !== undefined && b.server.earlyData !== 'none');
    assert.equal(b.server!.earlyData, 'rejected', 'the strike register refuses the second use');
    assert.equal(b.server!.acceptStream('bidi'), null, 'the replayed early data is not delivered');
    b.handshake();
    assert.equal(b.server!.resumed, true);
    assert.equal(st.replay!.size, 1);
    // The genuine client re-sends in 1-RTT, which a replayer could not.
    b.drive(() => b.serverEvents.some((e) => e.type === 'readable' && e.id === id));
    b.runFor(100);
    assert.equal(new TextDecoder().decode(readAll(b.server!, id)), 'pay 10');
  });

  it('after a Retry the 0-RTT data is sent again with the new Initial (RFC 9000 §17.2.5.3) and accepted', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const p = resumed(st, ticket, { retry: true, trace: true });
    const id = p.client.openStream('bidi')!;
    p.client.writeStream(id, new TextEncoder().encode('after retry'));
    p.client.finishStream(id);
    p.drive(() => p.serverEvents.some((e) => e.type === 'incoming'));
    assert.ok(p.retrySent, 'a Retry was sent');
    assert.equal(p.server!.handshakeComplete, false, 'the data came in 0-RTT, before the handshake completed');
    assert.equal(p.server!.earlyData, 'accepted');
    assert.equal(new TextDecoder().decode(readAll(p.server!, id)), 'after retry');
    const zeroRttDatagrams = p.trace.filter((d) => d.from === 'client' && longTypes(d.bytes).includes(LongPacketType.ZeroRtt));
    assert.ok(zeroRttDatagrams.length >= 2, '0-RTT before and after the Retry');
    p.handshake();
    assert.equal(p.client.earlyData, 'accepted');
  });

  it('a ticket for another ALPN is not used (no resumption, no 0-RTT); without a ticket nothing waits early', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const p = resumed(st, ticket, { alpn: 'other/1', serverAlpns: ['test/1', 'other/1'] });
    assert.equal(p.client.earlyData, 'none');
    assert.equal(p.client.openStream('bidi'), null, 'no remembered limits: no stream before the handshake');
    p.handshake();
    assert.equal(p.client.resumed, false);
  });

  it('reduced server limits (RFC 9000 §7.4.1): 0-RTT rejected, the data re-sent within the new limits', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const p = resumed(st, ticket, { serverTransport: { streams: { initialConnectionWindow: 1000, initialStreamWindow: 1000 } } });
    const id = p.client.openStream('bidi')!;
    const data = new Uint8Array(6000).map((_, i) => (i * 7) & 0xff);
    p.client.writeStream(id, data);
    p.client.finishStream(id);
    p.handshake();
    assert.equal(p.server!.earlyData, 'rejected', 'the new limits are below the remembered ones');
    assert.equal(p.client.earlyData, 'rejected');
    const got: Uint8Array[] = [];
    p.drive(() => {
      const b = readAll(p.server!, id);
      if (b.length > 0) got.push(b);
      return Buffer.concat(got).length === data.length;
    }, 10_000);
    assert.deepEqual(Buffer.concat(got), Buffer.from(data));
    assert.equal(p.client.isClosed || p.server!.isClosed, false, 'no flow-control error');
  });

  it('reduced stream limit: streams opened in a rejected 0-RTT beyond the new MAX_STREAMS wait for it, nothing lost (was INTERNAL_ERROR)', () => {
    const st = serverTickets();
    const ticket = firstTicket(st);
    const p = resumed(st, ticket, { serverTransport: { streams: { maxConcurrentBidiStreams: 2 } } });
    const sent = new Map<number, Uint8Array>();
    for (let k = 0; k < 5; k++) {
      const id = p.client.openStream('bidi')!;
      const data = new Uint8Array(3000 + k).map((_, i) => (i * (k + 3)) & 0xff);
      p.client.writeStream(id, data);
      p.client.finishStream(id);
      sent.set(id, data);
    }
    const got = new Map<number, Uint8Array[]>();
    const done = new Set<number>();
    p.drive(() => {
      for (const id of sent.keys()) {
        if (done.has(id) || !p.server?.isConnected) continue;
        let b: Uint8Array | null = null;
        try {
          b = p.server.readStream(id);
        } catch {
          continue; // not opened by the client yet
        }
        if (b && b.length > 0) got.set(id, [...(got.get(id) ?? []), b.slice()]);
        if (Buffer.concat(got.get(id) ?? []).length === sent.get(id)!.length) {
          done.add(id);
          readAll(p.server, id); // the FIN
          p.server.finishStream(id); // the stream closes: MAX_STREAMS lets the next one in
        }
      }
      return done.size === sent.size;
    }, 20_000);
    assert.equal(p.client.earlyData, 'rejected');
    for (const [id, data] of sent) assert.deepEqual(Buffer.concat(got.get(id)!), Buffer.from(data), `stream ${id}`);
    assert.equal(p.client.isClosed || p.server!.isClosed, false, 'no connection error');
  });

  it('datagrams sent in 0-RTT: settled as sent when accepted, reported dropped (early-data-rejected) when rejected', () => {
    for (const accept of [true, false]) {
      const st = serverTickets();
      const ticket = firstTicket(st);
      const p = resumed(accept ? st : { ...st, maxEarlyData: 0 }, ticket);
      assert.ok((p.client.maxDatagramSize() ?? 0) > 0, 'the remembered max_datagram_frame_size');
      const first = p.client.sendDatagram(new Uint8Array(50));
      const second = p.client.sendDatagram(new Uint8Array(60));
      p.flush();
      assert.deepEqual(p.client.takeDatagramSendReport(), { settledBelow: first, dropped: [] }, 'held until the server answers');
      p.handshake();
      const r = p.client.takeDatagramSendReport();
      assert.equal(r.settledBelow, second + 1);
      assert.deepEqual(r.dropped, accept ? [] : [{ id: first, reason: 'early-data-rejected' }, { id: second, reason: 'early-data-rejected' }]);
      assert.equal(p.client.getStats().datagrams.lost, accept ? 0 : 2);
    }
  });
});
