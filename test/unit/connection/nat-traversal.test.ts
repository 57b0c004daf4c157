import assert from 'node:assert/strict';
import { fromHex } from '../../../src/codec/bytes.js';
import { Writer } from '../../../src/codec/writer.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { decodeFrames } from '../../../src/quic/frames/decode.js';
import { writeFrame } from '../../../src/quic/frames/encode.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { FrameContext } from '../../../src/quic/frames/types.js';
import { MAX_NAT_PROBE_ATTEMPTS, NatTraversal, natProbeRetryDelay } from '../../../src/quic/connection/nat-traversal.js';

const BOTH = { ipv4: true, ipv6: true };
const make = (role: 'client' | 'server', over: Partial<ConstructorParameters<typeof NatTraversal>[0]> = {}): NatTraversal =>
  new NatTraversal({ role, maxRemoteAddresses: 32, maxLocalAddresses: 32, families: BOTH, initialRttMs: 333, ...over });

/** Frames as the peer receives them: encoded and decoded (views of fresh bytes). */
function wire<F extends Frame>(frames: readonly F[]): F[] {
  if (frames.length === 0) return [];
  const w = Writer.growable();
  for (const f of frames) writeFrame(w, f);
  return decodeFrames(w.bytes(), FrameContext.OneRtt) as F[];
}

const pv = (e: unknown): boolean => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION;
let challengeCounter = 0;
const challenge = (): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(4, ++challengeCounter);
  return b;
};

/** Sends every queued probe: returns [address, data] per probe. */
function sendProbes(n: NatTraversal): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  for (let a = n.nextProbe(); a !== undefined; a = n.nextProbe()) {
    const data = challenge();
    n.onProbeSent(a, data);
    out.push([a, data]);
  }
  return out;
}

describe('n0 NAT traversal state (noq n0_nat_traversal, on virtual time)', () => {
  it('retry intervals: a tenth of kInitialRtt, doubling, at most 2 s; nine probes in about 4 s', () => {
    const delays = Array.from({ length: 9 }, (_, a) => natProbeRetryDelay(a, 333));
    assert.deepEqual(delays.map((d) => Math.round(d * 10) / 10), [33.3, 33.3, 66.6, 133.2, 266.4, 532.8, 1065.6, 2000, 2000]);
    assert.equal(natProbeRetryDelay(50, 333), 2000);
    assert.equal(natProbeRetryDelay(0, 1000), 100);
  });

  it('a round: ADD_ADDRESS, REACH_OUT, probes both ways, a PATH_RESPONSE opens a path on the client', () => {
    const server = make('server');
    const client = make('client');
    // The server announces its candidates; the client keeps them.
    const adds = wire([server.addLocalAddress('192.0.2.1:4433')!, server.addLocalAddress('[2001:db8::1]:4433')!]);
    assert.deepEqual(adds.map((f) => f.sequence), [0, 1]);
    assert.equal(server.addLocalAddress('192.0.2.1:4433'), null, 'announced once');
    assert.deepEqual(adds.map((f) => client.onAddAddress(f)), ['192.0.2.1:4433', '[2001:db8::1]:4433']);
    assert.equal(client.onAddAddress(adds[0]!), null, 'a retransmission changes nothing');
    // The client's own candidates go in REACH_OUTs when it starts a round.
    assert.equal(client.addLocalAddress('198.51.100.7:50000'), null);
    const now = 1000;
    const reach = wire(client.startRound(now));
    assert.deepEqual(reach.map((f) => [f.round, f.port]), [[1, 50000]]);
    assert.equal(client.deadline, now + natProbeRetryDelay(0, 333));
    const clientProbes = sendProbes(client);
    assert.deepEqual(clientProbes.map(([a]) => a).sort(), ['192.0.2.1:4433', '[2001:db8::1]:4433']);
    // The server probes the client's address in the same round.
    for (const f of reach) server.onReachOut(now, f);
    assert.equal(server.round, 1);
    const serverProbes = sendProbes(server);
    assert.deepEqual(serverProbes.map(([a]) => a), ['198.51.100.7:50000']);
    // A response from another address, or with other data, is not the probe's.
    const [addr, data] = clientProbes[0]!;
    assert.equal(client.onPathResponse('203.0.113.9:1', data), false);
    assert.equal(client.onPathResponse(addr, fromHex('0000000000000000')), false);
    assert.equal(client.onPathResponse(addr, data), true);
    assert.equal(client.onPathResponse(addr, data), false, 'answered once');
    assert.equal(client.takePathToOpen(), addr);
    assert.equal(client.takePathToOpen(), undefined);
    // The server's probe answered: no path to open on its side (the client opens paths).
    assert.equal(server.onPathResponse(serverProbes[0]![0], serverProbes[0]![1]), true);
    assert.equal(server.takePathToOpen(), undefined);
  });

  it('an unanswered candidate gets MAX_NAT_PROBE_ATTEMPTS probes at the backoff intervals, then none', () => {
    const server = make('server');
    const client = make('client');
    client.addLocalAddress('198.51.100.7:50000');
    for (const f of wire([server.addLocalAddress('192.0.2.1:4433')!])) client.onAddAddress(f);
    let now = 0;
    client.startRound(now);
    const sentAt: number[] = [];
    for (let i = 0; i < 100 && (client.nextProbe() !== undefined || client.deadline !== Infinity); i++) {
      if (sendProbes(client).length > 0) sentAt.push(now);
      if (client.deadline === Infinity) break;
      now = client.deadline;
      client.onTimeout(now);
    }
    assert.equal(sentAt.length, MAX_NAT_PROBE_ATTEMPTS);
    const gaps = sentAt.slice(1).map((t, i) => Math.round((t - sentAt[i]!) * 10) / 10);
    assert.deepEqual(gaps, [33.3, 33.3, 66.6, 133.2, 266.4, 532.8, 1065.6, 2000]);
    assert.equal(client.deadline, Infinity);
    // A new round probes again.
    client.startRound(now);
    assert.equal(sendProbes(client).length, 1);
  });

  it('an answered candidate is not probed again in the round; the others are', () => {
    const client = make('client');
    client.addLocalAddress('198.51.100.7:50000');
    client.onAddAddress({ kind: 'addAddress', sequence: 0, ip: fromHex('c0000201'), port: 1 });
    client.onAddAddress({ kind: 'addAddress', sequence: 1, ip: fromHex('c0000202'), port: 2 });
    client.startRound(0);
    const probes = sendProbes(client);
    const answered = probes.find(([a]) => a === '192.0.2.1:1')!;
    assert.ok(client.onPathResponse(answered[0], answered[1]));
    client.onTimeout(client.deadline);
    assert.deepEqual(sendProbes(client).map(([a]) => a), ['192.0.2.2:2']);
  });

  it('server: an older round is ignored, a newer one replaces the round, a retransmitted REACH_OUT is one address', () => {
    const server = make('server', { maxRemoteAddresses: 2 });
    const r = (round: number, last: number) => ({ kind: 'reachOut' as const, round, ip: Uint8Array.of(198, 51, 100, last), port: 9 });
    server.onReachOut(0, r(2, 1));
    server.onReachOut(0, r(2, 1));
    server.onReachOut(0, r(2, 2));
    assert.deepEqual(server.remoteAddresses(), ['198.51.100.1:9', '198.51.100.2:9']);
    server.onReachOut(0, r(1, 3));
    assert.equal(server.round, 2);
    // Over our limit within one round: PROTOCOL_VIOLATION (noq).
    assert.throws(() => server.onReachOut(0, r(2, 3)), pv);
    const stale = sendProbes(server);
    server.onReachOut(10, r(3, 4));
    assert.deepEqual(server.remoteAddresses(), ['198.51.100.4:9']);
    // A late answer to the previous round's probe does nothing.
    assert.equal(server.onPathResponse(stale[0]![0], stale[0]![1]), false);
  });

  it('frames of the wrong side are PROTOCOL_VIOLATION; removal; limits on the addresses kept and announced', () => {
    const server = make('server', { maxLocalAddresses: 1 });
    const client = make('client', { maxRemoteAddresses: 1 });
    assert.throws(() => server.onAddAddress({ kind: 'addAddress', sequence: 0, ip: fromHex('7f000001'), port: 1 }), pv);
    assert.throws(() => server.onRemoveAddress({ kind: 'removeAddress', sequence: 0 }), pv);
    assert.throws(() => client.onReachOut(0, { kind: 'reachOut', round: 1, ip: fromHex('7f000001'), port: 1 }), pv);
    // The peer keeps one of ours: a second is not announced.
    assert.ok(server.addLocalAddress('192.0.2.1:1'));
    assert.equal(server.addLocalAddress('192.0.2.2:1'), null);
    assert.equal(server.addLocalAddress('relay:abc@https://relay.example'), null, 'not an IP address');
    assert.deepEqual(server.removeLocalAddress('192.0.2.1:1'), { kind: 'removeAddress', sequence: 0 });
    assert.equal(server.removeLocalAddress('192.0.2.1:1'), null);
    // We keep one of the server's: a second is ignored, as noq does.
    assert.equal(client.onAddAddress({ kind: 'addAddress', sequence: 0, ip: fromHex('c0000201'), port: 1 }), '192.0.2.1:1');
    assert.equal(client.onAddAddress({ kind: 'addAddress', sequence: 1, ip: fromHex('c0000202'), port: 1 }), null);
    // The same sequence number with another address replaces it.
    assert.equal(client.onAddAddress({ kind: 'addAddress', sequence: 0, ip: fromHex('c0000203'), port: 1 }), '192.0.2.3:1');
    assert.equal(client.onRemoveAddress({ kind: 'removeAddress', sequence: 0 }), '192.0.2.3:1');
    assert.equal(client.onRemoveAddress({ kind: 'removeAddress', sequence: 0 }), null);
    // No candidate of ours: no round.
    assert.deepEqual(make('client').startRound(0), []);
  });

  it('probe challenges remembered are bounded: a client probing back every address a server probes it from forgets the oldest', () => {
    const client = make('client', { maxRemoteAddresses: 4 });
    const bound = client.maxChallenges;
    assert.equal(bound, (4 + 8) * MAX_NAT_PROBE_ATTEMPTS);
    const first = challenge();
    client.onProbeSent('203.0.113.1:1', first);
    // The peer probes us from ever new addresses; each of our answers probes back (nat.ts, off-path.ts).
    for (let i = 0; i < 10 * bound; i++) client.onProbeSent(`203.0.113.2:${1000 + i}`, challenge());
    assert.equal(client.challengeCount, bound);
    assert.equal(client.onPathResponse('203.0.113.1:1', first), false, 'the oldest was forgotten');
    const last = challenge();
    client.onProbeSent('203.0.113.3:7', last);
    assert.equal(client.onPathResponse('203.0.113.3:7', last), true, 'a recent one still answers');
  });

  it('candidates of a family our sockets cannot reach are not probed', () => {
    const client = make('client', { families: { ipv4: true, ipv6: false } });
    client.addLocalAddress('198.51.100.7:50000');
    client.onAddAddress({ kind: 'addAddress', sequence: 0, ip: fromHex('20010db8000000000000000000000001'), port: 1 });
    client.onAddAddress({ kind: 'addAddress', sequence: 1, ip: fromHex('c0000201'), port: 1 });
    client.startRound(0);
    assert.deepEqual(sendProbes(client).map(([a]) => a), ['192.0.2.1:1']);
    const server = make('server', { families: { ipv4: true, ipv6: false } });
    server.onReachOut(0, { kind: 'reachOut', round: 1, ip: fromHex('20010db8000000000000000000000001'), port: 1 });
    assert.equal(server.nextProbe(), undefined);
  });
});
