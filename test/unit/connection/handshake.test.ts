import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { describe as describeDatagram, isAckEliciting, packetsOf, sentBy } from '../../harness/wire.js';
import { testSeed, withSeed } from '../../harness/seed.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { K_GRANULARITY, K_INITIAL_RTT } from '../../../src/quic/recovery/constants.js';
import { encodeRetry } from '../../../src/quic/packet/retry.js';
import { QUIC_VERSION_1 } from '../../../src/quic/packet/version.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';

/**
 * RFC 9002 §6.2.1/§6.2.2: before any RTT sample, smoothed_rtt = kInitialRtt and
 * rttvar = kInitialRtt / 2, so the PTO of the Initial and Handshake spaces (no max_ack_delay:
 * those acknowledgments are never delayed) is 333 + max(4 * 166.5, 1) = 999 ms; it doubles with
 * each consecutive expiry (§6.2.1 backoff).
 */
const FIRST_PTO = K_INITIAL_RTT + Math.max(4 * (K_INITIAL_RTT / 2), K_GRANULARITY);

/** A one-way delay of 375 ms: a 750 ms RTT, longer than the initial PTO guess. */
const SLOW = { delayMs: 375 };

function assertPaddingRules(p: Pair): void {
  const odcid = p.client.originalDestinationCid;
  for (const d of p.trace) {
    const packets = packetsOf(d, odcid);
    const initials = packets.filter((x) => x.kind === 'initial');
    if (initials.length === 0) continue;
    if (d.from === 'client') {
      // RFC 9000 §14.1: a client pads every datagram carrying an Initial to at least 1200
      // bytes; we pad exactly to 1200 (the path MTU is not known yet).
      assert.equal(d.bytes.length, 1200, `client Initial datagram ${describeDatagram(d)}`);
    } else if (initials.some((x) => x.frames !== undefined && isAckEliciting(x.frames))) {
      // RFC 9000 §14.1: a server pads datagrams carrying ack-eliciting Initials.
      assert.ok(d.bytes.length >= 1200, `server Initial datagram ${describeDatagram(d)}`);
    }
  }
}

describe('connection: handshake (sans-IO, virtual time)', () => {
  it('keeps none of its handshake once confirmed: CRYPTO buffers, ACK ranges, transcript hash, reset tokens (heap per idle connection)', () => {
    const p = new Pair({ seed: testSeed(17), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(200);
    for (const c of [p.client, p.server!]) {
      assert.ok(c.handshakeConfirmed);
      const i = c.internals;
      for (const space of [PacketSpace.Initial, PacketSpace.Handshake]) {
        const sp = i.spaces.at(space);
        assert.ok(sp.discarded);
        // Dropped with the space; asking for them after the discard gets fresh empty ones.
        const held = sp as unknown as { ackTracker: unknown; cryptoStream: unknown };
        assert.equal(held.ackTracker, undefined);
        assert.equal(held.cryptoStream, undefined);
        assert.deepEqual(sp.ack.receivedRanges(), []);
        assert.equal(sp.crypto.bufferedBytes, 0);
        assert.equal(sp.crypto.hasDataToSend, false);
      }
      const tls = i.handshake.tls as unknown as { transcript: { hash: unknown }; clientRandom: Uint8Array; hsSecrets: unknown };
      assert.equal(tls.transcript.hash, undefined);
      assert.equal(tls.clientRandom.length, 0);
      assert.equal(tls.hsSecrets, undefined);
      if (c === p.server) {
        // A finished server keeps only the shared parts of its TLS configuration.
        const cfg = (tls as unknown as { config: { transportParameters?: unknown; acceptEarlyData?: unknown } }).config;
        assert.equal(cfg.transportParameters, undefined);
        assert.equal(cfg.acceptEarlyData, undefined);
      }
      // Reset tokens are computed again on demand, the same each time.
      const cids = i.localCids.activeCids();
      assert.ok(cids.length >= 2);
      for (const cid of cids) assert.equal(cid.resetToken.length, 16);
      assert.deepEqual(i.localCids.activeCids().map((x) => x.resetToken), cids.map((x) => x.resetToken));
    }
    // Still a working connection: a stream round trip.
    const id = p.client.openStream('uni')!;
    const send = p.client.sendStream(id);
    send.write(new Uint8Array([1, 2, 3]));
    send.finish();
    let read = 0;
    let recv: ReturnType<typeof p.client.recvStream> | undefined;
    p.drive(() => {
      const got = p.server!.acceptStream('uni');
      if (got !== null) recv = p.server!.recvStream(got);
      if (!recv) return false;
      for (let d = recv.read(); d; d = recv.read()) read += d.length;
      return recv.ended;
    });
    assert.equal(read, 3);
  });

  it('completes a handshake with mutual raw-public-key authentication, events once', () => {
    const p = new Pair({ seed: testSeed(1), link: { delayMs: 10 }, trace: true });
    p.handshake();
    assert.ok(p.client.isConnected);
    assert.ok(p.server!.isConnected);
    assert.equal(p.client.alpn, 'test/1');
    assert.equal(p.server!.alpn, 'test/1');
    assert.equal(p.server!.peerPublicKey?.length, 32);
    assert.equal(p.client.peerPublicKey?.length, 32);
    // One RTT for the client, 1.5 for the server (it completes on the client's Finished).
    assert.equal(p.now, 30);
    p.runFor(200);
    assert.ok(p.client.handshakeConfirmed && p.server!.handshakeConfirmed);
    for (const events of [p.clientEvents, p.serverEvents]) {
      assert.equal(events.filter((e) => e.type === 'connected').length, 1);
      assert.equal(events.filter((e) => e.type === 'handshakeConfirmed').length, 1);
    }
    assertPaddingRules(p);
    // The very first datagram is exactly one padded Initial.
    assert.equal(p.trace[0]!.bytes.length, 1200);
    // The server sends no 1-RTT packet before its handshake completed on the client's Finished
    // (at 30 ms): RFC 9001 §5.7 allows it, but we have no 0.5-RTT data and keep it simple.
    for (const d of sentBy(p.trace, 'server').filter((x) => x.at < 30)) {
      assert.ok(!packetsOf(d).some((x) => x.kind === '1rtt'), describeDatagram(d));
    }
  });

  it('1-RTT packets that overtake the Handshake Finished are buffered, then processed (RFC 9001 §5.7)', () => {
    // Jitter on the client's path: its first 1-RTT datagrams may arrive before its Finished.
    const p = new Pair({ seed: testSeed(9), link: { delayMs: 10 }, clientToServer: { jitterMs: 20 } });
    const data = new Uint8Array(20_000).fill(3);
    let tx: StreamSender | undefined;
    const rx = new StreamReceiver(() => p.server);
    const app = { pump: () => { if (p.client.isConnected) { tx ??= new StreamSender(p.client, data); tx.pump(); } } };
    const buffered: number[] = [];
    p.onDeliver = () => { if (p.server) buffered.push(p.server.internals.receiver.bufferedCount); };
    run(p, [app, rx], () => tx !== undefined && rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx!.id), data));
    assert.ok(buffered.some((n) => n > 0), 'some 1-RTT packets waited for the handshake');
    assert.equal(p.server!.internals.receiver.bufferedCount, 0);
  });

  it("uses the peer's ack_delay_exponent to decode ACK delays (RFC 9000 §18.2): RTT estimates stay right", () => {
    const p = new Pair({
      seed: testSeed(10),
      link: { delayMs: 10 },
      clientTransport: { ackDelayExponent: 0, maxAckDelayMs: 100 },
      serverTransport: { ackDelayExponent: 20, maxAckDelayMs: 5 },
    });
    p.handshake();
    const data = new Uint8Array(300_000).fill(1);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    for (const c of [p.client, p.server!]) {
      const r = c.getStats().rtt;
      assert.ok(r.min > 19.99 && r.min < 21, `min ${r.min}`);
      assert.ok(r.smoothed >= 19 && r.smoothed < 40, `smoothed ${r.smoothed}`);
    }
  });

  it('first client Initial lost at a 750 ms RTT: retransmitted at the first PTO (999 ms), padded to 1200', () =>
    withSeed(2, (_rng, seed) => {
      const p = new Pair({ seed, link: SLOW, clientToServer: { dropIndices: new Set([0]) }, trace: true });
      p.handshake();
      assert.equal(FIRST_PTO, 999);
      const client = sentBy(p.trace, 'client');
      assert.equal(client[0]!.at, 0);
      // The PTO fires at 999 ms; the probe repeats the ClientHello (up to two datagrams, §6.2.4).
      assert.equal(client[1]!.at, FIRST_PTO);
      assert.equal(client[1]!.bytes.length, 1200);
      const crypto = packetsOf(client[1]!, p.client.originalDestinationCid)[0]!.frames!.filter((f) => f.kind === 'crypto');
      assert.ok(crypto.length > 0, 'the probe carries the ClientHello again');
      // The server answers the probe: handshake done one RTT after it plus the server's half.
      assert.equal(p.now, FIRST_PTO + 750 + 375);
      assertPaddingRules(p);
    }));

  it('first server flight lost at a 750 ms RTT: both PTOs fire at 999 ms after their sends and the handshake completes', () =>
    withSeed(3, (_rng, seed) => {
      const p = new Pair({ seed, link: SLOW, serverToClient: { dropIndices: new Set([0]) }, trace: true });
      p.handshake();
      const client = sentBy(p.trace, 'client');
      const server = sentBy(p.trace, 'server');
      assert.equal(server[0]!.at, 375);
      // Client: no ACK for its Initial, so its PTO fires at 999 ms.
      assert.equal(client[1]!.at, FIRST_PTO);
      // Server: its flight is unacknowledged: its PTO fires 999 ms after sending it, and the probe
      // carries the Handshake data too (§6.2.4: probe every space with data in flight).
      const probe = server.find((d) => d.at === 375 + FIRST_PTO);
      assert.ok(probe, `server probe at ${375 + FIRST_PTO}: ${server.map(describeDatagram).join(' ')}`);
      assert.ok(probe.bytes.length >= 1200);
      const kinds = packetsOf(probe).map((x) => x.kind);
      assert.deepEqual(kinds, ['initial', 'handshake']);
      assertPaddingRules(p);
      assert.ok(p.now <= 375 + FIRST_PTO + 750 + 375, `handshake done at ${p.now}`);
    }));

  it('the client anti-deadlock PTO (RFC 9002 §6.2.2.1) unblocks a server stuck at its amplification limit', () =>
    withSeed(4, (_rng, seed) => {
      // The client's datagrams 2-7 die: the server only ever hears 1200 bytes, so it may send 3600.
      const p = new Pair({ seed, link: { delayMs: 20 }, clientToServer: { dropIndices: new Set([1, 2, 3, 4, 5, 6]) }, trace: true });
      let serverSent = 0;
      let violations = 0;
      p.onSend = (from, bytes) => {
        if (from !== 'server' || p.server!.internals.paths.current.validated) return;
        serverSent += bytes.length;
        // RFC 9000 §8.1: at most three times the bytes received before the address is validated.
        if (serverSent > 3 * p.bytesDeliveredToServer) violations++;
      };
      p.handshake(60_000);
      assert.equal(violations, 0);
      assert.ok(serverSent <= 3 * 1200 + 3 * p.bytesDeliveredToServer);
      assertPaddingRules(p);
      // The server was blocked: within its budget while unvalidated, it sent nothing after its first
      // flight until one of the client's PTO datagrams got through (its 8th, at ~880 ms). Only bytes
      // sent before validation count: once validated, the server's first second may hold more
      // (with multipath, its PATH_NEW_CONNECTION_IDs).
      assert.ok(serverSent <= 3600, `${serverSent} bytes before validation`);
      const fromServer = sentBy(p.trace, 'server');
      assert.ok(fromServer[1]!.at - fromServer[0]!.at > 500, fromServer.map(describeDatagram).join(' '));
    }));

  it('never exceeds the amplification limit on a lossy path (RFC 9000 §8.1)', () => {
    for (let i = 0; i < 10; i++) {
      const seed = testSeed(100 + i);
      const p = new Pair({ seed, link: { delayMs: 15, dropRate: 0.3 }, trace: true });
      let serverSent = 0;
      p.onSend = (from, bytes) => {
        if (from !== 'server' || p.server!.internals.paths.current.validated) return;
        serverSent += bytes.length;
        assert.ok(serverSent <= 3 * p.bytesDeliveredToServer, `seed ${seed}: ${serverSent} > 3 * ${p.bytesDeliveredToServer}`);
      };
      p.handshake(60_000);
      assertPaddingRules(p);
    }
  });

  it('50 connections through 30% loss each way all complete their handshakes and a small transfer', () => {
    // The interop runner's "handshakeloss" shape: many short connections on a lossy path.
    const data = new Uint8Array(1000).fill(0x5a);
    let maxTime = 0;
    for (let i = 0; i < 50; i++) {
      const seed = testSeed(1000 + i);
      const p = new Pair({ seed, link: { delayMs: 15, dropRate: 0.3 }, trace: true });
      try {
        p.handshake(60_000);
        assertPaddingRules(p);
        const tx = new StreamSender(p.client, data);
        const rx = new StreamReceiver(() => p.server);
        run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true, 60_000);
        assert.ok(bytesEqual(rx.data(tx.id), data));
      } catch (e) {
        if (e instanceof Error) e.message += ` (seed ${seed})`;
        throw e;
      }
      maxTime = Math.max(maxTime, p.now);
    }
    assert.ok(maxTime < 30_000, `slowest connection took ${maxTime} ms`);
  });

  it('follows a Retry: new DCID and keys, the token echoed, retry_source_connection_id checked (RFC 9000 §8.1.2, §7.3)', () => {
    const p = new Pair({ seed: testSeed(5), link: { delayMs: 10 }, retry: true, trace: true });
    p.handshake();
    const r = p.retrySent!;
    assert.ok(bytesEqual(p.client.internals.handshake.retryScid!, r.scid));
    assert.ok(bytesEqual(p.server!.peerTransportParameters!.initialSourceConnectionId!, p.client.initialLocalCid));
    assert.ok(bytesEqual(p.client.peerTransportParameters!.retrySourceConnectionId!, r.scid));
    assert.ok(bytesEqual(p.client.peerTransportParameters!.originalDestinationConnectionId!, r.odcid));
    // The Initial after the Retry carries the token, goes to the Retry's SCID, and is padded.
    const client = sentBy(p.trace, 'client');
    assert.equal(client[1]!.at, 20);
    assert.equal(client[1]!.bytes.length, 1200);
    // Handshake: one extra RTT for the Retry.
    assert.equal(p.now, 50);
    assert.ok(p.server!.internals.paths.current.validated);
  });

  it('ignores a second Retry, and a Retry whose integrity tag does not verify (RFC 9000 §17.2.5.2)', () => {
    const p = new Pair({ seed: testSeed(6), link: { delayMs: 10 }, retry: true });
    p.drive(() => p.client.internals.handshake.retryScid !== undefined);
    const r = p.retrySent!;
    const second = encodeRetry({ version: QUIC_VERSION_1, dcid: p.client.initialLocalCid, scid: new Uint8Array(8).fill(9), token: new Uint8Array(5).fill(1) }, r.odcid);
    p.s2c.send(p.now, second);
    p.handshake();
    assert.ok(bytesEqual(p.client.internals.handshake.retryScid!, r.scid));

    const q = new Pair({ seed: testSeed(7), link: { delayMs: 10 } });
    const forged = encodeRetry({ version: QUIC_VERSION_1, dcid: q.client.initialLocalCid, scid: new Uint8Array(8).fill(3), token: new Uint8Array(5).fill(1) }, q.client.originalDestinationCid);
    forged[forged.length - 1]! ^= 1;
    q.s2c.send(0, forged);
    q.handshake();
    assert.equal(q.client.internals.handshake.retryScid, undefined);
  });

  it('times out a handshake the server never answers (handshakeTimeout, then terminated)', () => {
    const p = new Pair({ seed: testSeed(8), link: { delayMs: 10, dropRate: 1 }, clientTransport: { handshakeTimeoutMs: 5000 } });
    p.driveToTermination(30_000);
    assert.equal(p.client.closeInfo?.kind, 'handshakeTimeout');
    assert.equal(p.clientEvents.filter((e) => e.type === 'closed').length, 1);
    assert.equal(p.clientEvents.filter((e) => e.type === 'terminated').length, 1);
  });

  it('a handshake timeout says which happened: no answer at all, or an answer and no completion', () => {
    const silent = new Pair({ seed: testSeed(9), link: { delayMs: 10, dropRate: 1 }, clientTransport: { handshakeTimeoutMs: 5000 } });
    silent.driveToTermination(30_000);
    assert.equal(silent.client.closeInfo?.reason, 'no answer within 5000 ms');
    // The server hears only the client's first datagram: it answered, the client completed, and
    // the server's own handshake (the client's Finished never arrives) cannot.
    const firstOnly = new Set<number>();
    for (let i = 1; i < 1000; i++) firstOnly.add(i);
    const deaf = new Pair({ seed: testSeed(10), clientToServer: { dropIndices: firstOnly }, serverTransport: { handshakeTimeoutMs: 3000 } });
    deaf.drive(() => deaf.server?.closeInfo !== undefined, 30_000);
    assert.equal(deaf.server?.closeInfo?.kind, 'handshakeTimeout');
    assert.equal(deaf.server?.closeInfo?.reason, 'the handshake did not complete within 3000 ms');
  });
});
