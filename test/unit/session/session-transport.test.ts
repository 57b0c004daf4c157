import assert from 'node:assert/strict';
import { Session, type SessionTransport, type WebTransportInfo } from '../../../src/session/session.js';
import { InvalidArgumentError } from '../../../src/session/errors.js';
import type { SessionKind } from '../../../src/session/session-transport.js';
import type { ConnectionStats } from '../../../src/quic/connection/stats.js';
import { EndpointId } from '../../../src/tls/identity.js';

/**
 * One Session class over any SessionTransport: what the Session does itself (argument checks, the
 * close code's range per kind, the WebTransport shapes) and what it hands to its transport as is.
 * No socket: the transport is a recording stub.
 */

interface Recorded {
  closes: Array<[number | bigint, string]>;
  datagrams: Uint8Array[];
  signals: Array<AbortSignal | undefined>;
}

function stubTransport(kind: SessionKind): { t: SessionTransport; rec: Recorded; sent: Promise<void> } {
  const rec: Recorded = { closes: [], datagrams: [], signals: [] };
  const sent = Promise.resolve();
  const t: SessionTransport = {
    kind,
    ready: Promise.resolve(),
    closed: new Promise(() => {}),
    remoteId: EndpointId.fromSecretKey(new Uint8Array(32).fill(1)),
    peerCertificates: undefined,
    resumed: false,
    earlyDataAccepted: false,
    alpn: kind === 'webtransport' ? 'h3' : 'x/1',
    remoteAddress: '127.0.0.1:1',
    openBidirectionalStream: (signal) => {
      rec.signals.push(signal);
      return Promise.resolve({ readable: new ReadableStream(), writable: new WritableStream() });
    },
    openUnidirectionalStream: () => Promise.resolve(new WritableStream()),
    nextBidirectionalStream: (signal) => {
      rec.signals.push(signal);
      return Promise.resolve(null);
    },
    nextUnidirectionalStream: () => Promise.resolve(null),
    sendDatagram: (d) => {
      rec.datagrams.push(d);
      return sent;
    },
    recvDatagram: () => Promise.resolve(null),
    maxDatagramSize: () => 1000,
    close: (code, reason) => void rec.closes.push([code, reason]),
    getStats: () => ({}) as ConnectionStats,
    paths: () => [{ id: 0, kind: 'direct', remoteAddress: '127.0.0.1:1', selected: true, rttMs: 1, status: 'available' }],
  };
  return { t, rec, sent };
}

describe('Session over a SessionTransport (one class for QUIC and WebTransport sessions)', () => {
  it('is the same class whatever the kind; webTransport only on a WebTransport session', () => {
    const quic = Session.fromTransport(stubTransport('quic').t);
    const info = { sessionId: 0, draft: 'draft-07' } as unknown as WebTransportInfo;
    const wt = Session.fromTransport(stubTransport('webtransport').t, info);
    for (const s of [quic, wt]) assert.equal(Object.getPrototypeOf(s), Session.prototype);
    assert.equal(quic.kind, 'quic');
    assert.equal(quic.webTransport, undefined);
    assert.equal(wt.kind, 'webtransport');
    assert.equal(wt.webTransport, info);
    assert.equal(wt.alpn, 'h3');
    assert.throws(() => wt.state, InvalidArgumentError, 'a WebTransport session has no QUIC state of its own');
    // paths() is the transport's (for WebTransport, the paths of the QUIC connection under it).
    for (const s of [quic, wt]) assert.deepEqual(s.paths().map((p) => p.kind), ['direct']);
  });

  it('close codes: up to 2^62-1 on a QUIC session, up to 2^32-1 on a WebTransport session, an InvalidArgumentError saying which otherwise', () => {
    const q = stubTransport('quic');
    const quic = Session.fromTransport(q.t);
    quic.close({ closeCode: 2 ** 32, reason: 'a' });
    quic.close((1n << 62n) - 1n, 'b');
    assert.throws(() => quic.close(1n << 62n), (e: unknown) => e instanceof InvalidArgumentError && /\[0, 2\^62-1\] for a QUIC session .*got 4611686018427387904$/.test(e.message));
    assert.deepEqual(q.rec.closes, [[2 ** 32, 'a'], [(1n << 62n) - 1n, 'b']]);

    const w = stubTransport('webtransport');
    const wt = Session.fromTransport(w.t);
    for (const bad of [2 ** 32, -1, 1.5, Number.NaN, 1n << 32n, '7']) {
      assert.throws(
        () => wt.close({ closeCode: bad as number }),
        (e: unknown) => e instanceof InvalidArgumentError && /^close code must be an integer in \[0, 2\^32-1\] for a WebTransport session \(CLOSE_WEBTRANSPORT_SESSION carries 32 bits\), got /.test(e.message),
        String(bad),
      );
    }
    assert.throws(() => wt.close(1, 42 as unknown as string), (e: unknown) => e instanceof InvalidArgumentError && /reason must be a string/.test(e.message));
    assert.deepEqual(w.rec.closes, [], 'nothing closed by a bad argument');
    // A bigint within range reaches the transport as a number; no argument means code 0.
    wt.close(0xffffffffn, 'max');
    wt.close();
    assert.deepEqual(w.rec.closes, [[0xffffffff, 'max'], [0, '']]);
  });

  it('hands the transport its promise as is (no promise of its own per datagram) and checks arguments first', async () => {
    const { t, rec, sent } = stubTransport('quic');
    const s = Session.fromTransport(t);
    const d = new Uint8Array([1]);
    assert.equal(s.sendDatagram(d), sent);
    assert.deepEqual(rec.datagrams, [d]);
    await assert.rejects(s.sendDatagram('x' as unknown as Uint8Array), InvalidArgumentError);
    await assert.rejects(s.nextBidiStream({ bogus: 1 } as never), InvalidArgumentError);
    await assert.rejects(s.createBidirectionalStream({ signal: 'no' } as never), InvalidArgumentError);
    assert.equal(rec.datagrams.length, 1);
    const ac = new AbortController();
    await s.createBidirectionalStream({ signal: ac.signal });
    assert.equal(await s.nextBidiStream({ signal: ac.signal }), null);
    assert.deepEqual(rec.signals, [ac.signal, ac.signal]);
    assert.equal(s.datagrams.maxDatagramSize, 1000);
  });

  it('the WebTransport shapes (callable ready and closed, incoming streams as web streams) come from the Session', async () => {
    const s = Session.fromTransport(stubTransport('webtransport').t);
    await s.ready;
    await s.ready();
    const r = s.incomingBidirectionalStreams.getReader();
    assert.deepEqual(await r.read(), { done: true, value: undefined });
    assert.equal(s.incomingBidirectionalStreams, s.incomingBidirectionalStreams, 'built once');
  });
});
