import assert from 'node:assert/strict';
import { Connection } from '../../../src/quic/connection/connection.js';
import { tryParsePacketHeader } from '../../../src/quic/packet/header.js';
import type { TransportOptions } from '../../../src/quic/transport-config.js';
import { ConfigError, resolveTransportConfig } from '../../../src/quic/transport-config.js';
import { NatLink } from '../../../src/quic/connection/nat.js';
import { MAX_NAT_PROBE_ATTEMPTS } from '../../../src/quic/connection/nat-traversal.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { publicKeyOf } from '../../../src/tls/identity.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { Pair } from '../../harness/pair.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { testSeed } from '../../harness/seed.js';

/**
 * iroh's n0 NAT traversal wired into two quic-peer connections (nat.ts), on virtual time. The
 * connection starts over a relay: the client's path 0 is `relay:S`, the server's `relay:C`; each
 * also has a direct UDP address (C, S) the other does not know until NAT traversal tells it.
 * Datagrams to a relay address arrive from the sender's relay address after RELAY_MS; datagrams
 * to C or S arrive from the sender's direct address after DIRECT_MS, unless direct is blocked.
 */
const C = '10.0.0.2:5000';
const S = '10.0.0.1:443';
const RELAY_C = 'relay:client@http://relay.test/';
const RELAY_S = 'relay:server@http://relay.test/';
const RELAY_MS = 20;
const DIRECT_MS = 2;
/** A UDP forwarder to the server (a port forward, say): the client sends to FWD, the server hears FWD_BACK. */
const FWD = '10.0.0.9:7000';
const FWD_BACK = '10.0.0.9:7001';
const FWD_MS = 15;

type Side = 'client' | 'server';

class NatNet {
  readonly client: Connection;
  server: Connection | undefined;
  now = 0;
  /** Direct datagrams are dropped (a NAT that lets nothing through). */
  directBlocked = false;
  /** Datagrams sent per destination. */
  readonly sentTo = new Map<string, number>();
  /** Every client datagram sent directly, with its size. */
  readonly directFromClient: number[] = [];
  private readonly queue: Array<{ at: number; to: Side; from: string; bytes: Uint8Array }> = [];
  private readonly buf = new Uint8Array(1500);
  private readonly rng: SeededRandom;
  private readonly serverKey: Uint8Array;
  private readonly serverTransport: TransportOptions;

  constructor(seed: number, clientTransport: TransportOptions = { multipath: true }, serverTransport: TransportOptions = { multipath: true }) {
    this.rng = new SeededRandom(testSeed(seed));
    const clientKey = this.rng.fill(new Uint8Array(32));
    this.serverKey = this.rng.fill(new Uint8Array(32));
    this.serverTransport = serverTransport;
    this.client = new Connection(
      {
        role: 'client',
        random: new SeededRandom(this.rng.nextU32()),
        resetToken: () => new Uint8Array(16).fill(1),
        remoteAddress: RELAY_S,
        tls: { secretKey: clientKey, certificateType: 'rawPublicKey', alpnProtocols: ['nat/1'], expectedPeerKey: publicKeyOf(this.serverKey) },
        transport: clientTransport,
      },
      this.now,
    );
  }

  conn(side: Side): Connection | undefined {
    return side === 'client' ? this.client : this.server;
  }

  private send(from: Side, to: string, bytes: Uint8Array): void {
    this.sentTo.set(to, (this.sentTo.get(to) ?? 0) + 1);
    if (to === RELAY_S || to === RELAY_C) {
      this.queue.push({ at: this.now + RELAY_MS, to: from === 'client' ? 'server' : 'client', from: from === 'client' ? RELAY_C : RELAY_S, bytes: bytes.slice() });
      return;
    }
    if (to === FWD || to === FWD_BACK) {
      // The forwarder is a direct path too, but not to the peer's own address.
      if ((from === 'client') !== (to === FWD)) return;
      this.queue.push({ at: this.now + FWD_MS, to: from === 'client' ? 'server' : 'client', from: from === 'client' ? FWD_BACK : FWD, bytes: bytes.slice() });
      return;
    }
    if (from === 'client') this.directFromClient.push(bytes.length);
    const dest: Side | undefined = to === S ? 'server' : to === C ? 'client' : undefined;
    if (dest === undefined || dest === from || this.directBlocked) return;
    this.queue.push({ at: this.now + DIRECT_MS, to: dest, from: from === 'client' ? C : S, bytes: bytes.slice() });
  }

  private flush(): void {
    for (const side of ['client', 'server'] as const) {
      const c = this.conn(side);
      if (!c) continue;
      for (let n = c.pollTransmit(this.now, this.buf); n > 0; n = c.pollTransmit(this.now, this.buf)) {
        this.send(side, c.transmitAddress ?? (side === 'client' ? RELAY_S : RELAY_C), this.buf.subarray(0, n));
      }
      for (let e = c.pollEvent(); e; e = c.pollEvent());
    }
  }

  step(limit: number): boolean {
    this.flush();
    const next = Math.min(this.client.pollTimeout(), this.server?.pollTimeout() ?? Infinity, ...this.queue.map((d) => d.at));
    if (next > limit || next === Infinity) {
      this.now = Math.max(this.now, limit);
      return false;
    }
    this.now = Math.max(this.now, next);
    const due = this.queue.filter((d) => d.at <= this.now);
    this.queue.splice(0, this.queue.length, ...this.queue.filter((d) => d.at > this.now));
    for (const d of due) {
      if (d.to === 'server' && !this.server) this.accept(d.bytes, d.from);
      this.conn(d.to)?.handleDatagram(this.now, d.bytes, d.from);
    }
    for (const c of [this.client, this.server]) if (c && c.pollTimeout() <= this.now) c.handleTimeout(this.now);
    this.flush();
    return true;
  }

  runFor(ms: number): void {
    const end = this.now + ms;
    while (this.step(end));
  }

  drive(until: () => boolean, maxMs = 30_000): void {
    const end = this.now + maxMs;
    while (!until()) {
      if (this.now > end || !this.step(end)) throw new Error(`not reached within ${maxMs} ms (now ${this.now})`);
    }
  }

  private accept(first: Uint8Array, from: string): void {
    const h = tryParsePacketHeader(first, 0, 0);
    if (h.kind !== 'long') return;
    this.server = new Connection(
      {
        role: 'server',
        random: new SeededRandom(this.rng.nextU32()),
        resetToken: () => new Uint8Array(16).fill(2),
        initialDcid: h.dcid.slice(),
        clientScid: h.scid.slice(),
        remoteAddress: from,
        tls: { secretKey: this.serverKey, certificateType: 'rawPublicKey', alpnProtocols: ['nat/1'] },
        transport: this.serverTransport,
      },
      this.now,
    );
    this.server.setLocalCandidates(this.now, [S], { ipv4: true, ipv6: false });
  }

  /** Both sides connected and confirmed. */
  connect(): void {
    this.client.setLocalCandidates(this.now, [C], { ipv4: true, ipv6: false });
    this.drive(() => this.client.handshakeConfirmed && (this.server?.handshakeConfirmed ?? false));
  }
}

describe('n0 NAT traversal wired into the connection (nat.ts)', () => {
  it('TransportConfig: both on by default, natTraversal follows multipath (parameter 32), false turns it off, its limit is checked', () => {
    assert.equal(resolveTransportConfig().multipath, true);
    assert.equal(resolveTransportConfig().natTraversal, true);
    assert.equal(resolveTransportConfig({ multipath: true }).natTraversal, true);
    const byDefault = new NatNet(5, {}, {});
    assert.equal(byDefault.client.localTransportParameters.n0NatTraversal, 32);
    assert.equal(byDefault.client.localTransportParameters.initialMaxPathId, 7);
    const on = new NatNet(1);
    assert.equal(on.client.localTransportParameters.n0NatTraversal, 32);
    const off = new NatNet(2, { multipath: true, natTraversal: false });
    assert.equal(off.client.localTransportParameters.n0NatTraversal, null);
    const noMp = new NatNet(3, { multipath: false, natTraversal: true });
    assert.equal(noMp.client.localTransportParameters.n0NatTraversal, null, 'not without multipath');
    assert.equal(noMp.client.localTransportParameters.initialMaxPathId, null);
    // `multipath: false` alone turns both off.
    const mpOff = new NatNet(6, { multipath: false }, { multipath: false });
    assert.equal(mpOff.client.localTransportParameters.n0NatTraversal, null);
    assert.equal(mpOff.client.localTransportParameters.initialMaxPathId, null);
    assert.equal(new NatNet(4, { multipath: true, natTraversalMaxAddresses: 4 }).client.localTransportParameters.n0NatTraversal, 4);
    assert.throws(() => resolveTransportConfig({ natTraversalMaxAddresses: 0 }), ConfigError);
    assert.throws(() => resolveTransportConfig({ natTraversalMaxAddresses: 256 }), ConfigError);
  });

  it('negotiated when both offer it: the server announces its candidate, the client reaches out, probes meet, the client has a path to open', () => {
    // initial_max_path_id 0 both ways: no path id can open, so the answered address waits.
    const z = { multipath: true, multipathMaxPathId: 0 };
    const n = new NatNet(11, z, z);
    n.connect();
    const s = n.server!;
    n.runFor(200);
    assert.deepEqual(n.client.internals.handshake.multipath?.natTraversal, { maxRemoteAddresses: 32, maxLocalAddresses: 32 });
    const cm = n.client.internals.nat!.machine!;
    const sm = s.internals.nat!.machine!;
    assert.deepEqual(cm.remoteAddresses(), [S], 'ADD_ADDRESS reached the client');
    assert.deepEqual(sm.remoteAddresses(), [C], 'REACH_OUT reached the server');
    assert.equal(cm.round, 1);
    const cs = n.client.getStats().natTraversal!;
    assert.equal(cs.rounds, 1);
    assert.ok(cs.probesAnswered >= 1, JSON.stringify(cs));
    assert.ok((s.getStats().natTraversal?.probesSent ?? 0) >= 1, 'the server probed the client too');
    assert.equal(n.client.internals.nat!.pathToOpen, S, 'with no path id to open the address waits');
    // Probes are unpadded (a 1-RTT packet with one PATH_CHALLENGE), and path 0 stays on the relay.
    assert.ok(n.directFromClient.some((len) => len < 100), JSON.stringify(n.directFromClient));
    assert.equal(n.client.remoteAddress, RELAY_S);
    assert.equal(s.remoteAddress, RELAY_C);
    assert.equal(n.client.getStats().migrations + s.getStats().migrations, 0);
    assert.equal(n.client.isClosed || s.isClosed, false);
  });

  it('an answered probe opens a path id on that address (Connection.openPath): validated both ways, new data moves to it; rounds wait while it lives and resume when it goes', () => {
    const mp = { multipath: true, multipathMaxPathId: 2 };
    const n = new NatNet(12, mp, mp);
    n.connect();
    n.runFor(1_000);
    const cs = n.client.getStats().natTraversal!;
    assert.equal(cs.pathsOpened, 1, JSON.stringify(cs));
    const direct = n.client.paths().find((p) => p.pathId === 1);
    assert.ok(direct, JSON.stringify(n.client.paths()));
    assert.equal(direct.remoteAddress, S);
    assert.equal(direct.validated, true);
    const back = n.server!.paths().find((p) => p.pathId === 1);
    assert.equal(back?.remoteAddress, C, 'the server sees the client’s direct address on path 1');
    // Path 0 stays on the relay; the direct path (2 ms against 20 ms) carries the new data.
    assert.equal(n.client.remoteAddress, RELAY_S);
    const id = n.client.openStream('uni')!;
    const before = n.directFromClient.length;
    n.client.writeStream(id, new Uint8Array(200_000).fill(3));
    n.client.finishStream(id);
    n.runFor(1_000);
    assert.equal(n.server!.readStream(id)?.length, 200_000);
    assert.ok(n.directFromClient.length - before > 100, `${n.directFromClient.length - before} datagrams went direct`);
    assert.equal(n.client.paths().find((p) => p.selected)?.pathId, 1);
    n.runFor(11_000);
    assert.equal(n.client.getStats().natTraversal!.rounds, 1, 'no round while the direct path lives');
    // The direct path goes: the client punches again within 5 s and opens a path on it again.
    assert.equal(n.client.abandonPath(n.now, 1), true);
    n.runFor(5_500);
    const after = n.client.getStats().natTraversal!;
    assert.equal(after.rounds, 2, JSON.stringify(after));
    assert.equal(after.pathsOpened, 2);
    assert.ok(n.client.paths().some((p) => p.pathId === 2 && p.remoteAddress === S && !p.abandoned), JSON.stringify(n.client.paths()));
  });

  it('no path id the peer allows (initial_max_path_id 0): the address waits, the session stays on the relay', () => {
    const z = { multipath: true, multipathMaxPathId: 0 };
    const n = new NatNet(13, z, z);
    n.connect();
    n.runFor(1_000);
    assert.equal(n.client.internals.nat!.pathToOpen, S);
    assert.equal(n.client.getStats().natTraversal!.pathsOpened, 0);
    assert.deepEqual(n.client.paths().map((p) => p.pathId), [0]);
  });

  it('direct path blocked: nine probes per candidate and round, a new round every 5 s while on the relay, and the connection keeps working', () => {
    const n = new NatNet(14);
    n.directBlocked = true;
    n.connect();
    n.runFor(4_900);
    const cs = n.client.getStats().natTraversal!;
    assert.equal(cs.rounds, 1);
    assert.equal(cs.probesSent, MAX_NAT_PROBE_ATTEMPTS, 'one candidate, nine attempts');
    assert.equal(cs.probesAnswered, 0);
    n.runFor(10_000);
    assert.equal(n.client.getStats().natTraversal!.rounds, 3, 'one every 5 s');
    // A stream still crosses the relay.
    const id = n.client.openStream('bidi')!;
    n.client.writeStream(id, new Uint8Array(5000).fill(7));
    n.client.finishStream(id);
    n.runFor(500);
    const got = n.server!.acceptStream('bidi');
    assert.equal(got, id);
    assert.equal(n.server!.readStream(id)?.length, 5000);
    assert.equal(n.client.isClosed, false);
  });

  it('a client whose path 0 is the server candidate itself starts no round (nothing new to reach)', () => {
    const n = new NatNet(15);
    // The client's path 0 is an IP address: nothing to punch.
    (n.client as unknown as { internals: { paths: { current: { readdress(a: string): void } } } }).internals.paths.current.readdress(S);
    n.directBlocked = false;
    n.connect();
    n.runFor(6_000);
    assert.equal(n.client.getStats().natTraversal!.rounds, 0);
    assert.deepEqual(n.client.paths().map((p) => p.pathId), [0]);
  });

  it('a client whose path 0 is direct through a forwarder punches once, as iroh on a new connection: a path id opens on the server candidate, and no timed rounds follow', () => {
    const n = new NatNet(20);
    (n.client as unknown as { internals: { paths: { current: { readdress(a: string): void } } } }).internals.paths.current.readdress(FWD);
    n.connect();
    assert.equal(n.server!.remoteAddress, FWD_BACK);
    n.runFor(1_000);
    const cs = n.client.getStats().natTraversal!;
    assert.equal(cs.rounds, 1, JSON.stringify(cs));
    assert.equal(cs.pathsOpened, 1);
    const direct = n.client.paths().find((p) => p.pathId === 1);
    assert.equal(direct?.remoteAddress, S);
    assert.equal(direct?.validated, true);
    assert.equal(n.client.remoteAddress, FWD, 'path 0 stays on the forwarder');
    // The direct path (2 ms against 15 ms) carries new data.
    const id = n.client.openStream('uni')!;
    n.client.writeStream(id, new Uint8Array(100_000).fill(5));
    n.client.finishStream(id);
    n.runFor(500);
    assert.equal(n.server!.readStream(id)?.length, 100_000);
    assert.equal(n.client.paths().find((p) => p.selected)?.pathId, 1);
    n.runFor(12_000);
    assert.equal(n.client.getStats().natTraversal!.rounds, 1, 'no timed round: the connection is direct');
    // A new server candidate starts a round at once, probing only it (S has a path).
    const before = n.client.getStats().natTraversal!.probesSent;
    n.server!.setLocalCandidates(n.now, [S, '10.0.0.1:444']);
    n.runFor(100);
    const after = n.client.getStats().natTraversal!;
    assert.equal(after.rounds, 2);
    // Probes to the new candidate at 0, 33 and 67 ms (kInitialRtt 333 ms); the other probe counted
    // is the challenge riding on our PATH_RESPONSE to the server's probe of our REACH_OUT address.
    assert.equal(n.sentTo.get('10.0.0.1:444'), 3);
    assert.equal(after.probesSent - before, 3 + 1);
  });

  it('path 0 abandoned: probes go in packets of a path id, the peer answers them from where they came (off-path), and a path opens', () => {
    // The relay path 0 is abandoned once the direct path 1 (C <-> S) is up; then the server offers
    // FWD (a forwarder: the client sends to FWD, the server hears FWD_BACK). The client's probe to
    // FWD must ride path 1's packets (path 0 sends nothing more), reach the server from FWD_BACK,
    // not path 1's address C, and be answered there: the answer comes back from FWD.
    const mp = { multipath: true, multipathMaxPathId: 3 };
    const n = new NatNet(21, mp, mp);
    n.connect();
    n.runFor(1_000);
    assert.equal(n.client.paths().find((p) => p.pathId === 1)?.remoteAddress, S);
    assert.equal(n.client.abandonPath(n.now, 0, 0), true);
    n.runFor(1_000);
    assert.equal(n.server!.internals.multipath.isPathZeroAbandoned, true);
    const relayBefore = n.sentTo.get(RELAY_S) ?? 0;
    const before = n.client.getStats().natTraversal!;
    const serverPaths = n.server!.getStats();
    n.server!.setLocalCandidates(n.now, [S, FWD]);
    n.runFor(1_000);
    const after = n.client.getStats().natTraversal!;
    assert.equal(after.rounds, before.rounds + 1, JSON.stringify(after));
    assert.ok((n.sentTo.get(FWD) ?? 0) >= 1, 'the client probed FWD');
    assert.ok(after.probesAnswered > before.probesAnswered, `answered: ${JSON.stringify(after)}`);
    assert.ok((n.sentTo.get(FWD_BACK) ?? 0) >= 1, 'the server answered FWD_BACK, where the probe came from');
    assert.ok(n.server!.getStats().pathResponsesSent > serverPaths.pathResponsesSent);
    const viaFwd = n.client.paths().find((p) => p.remoteAddress === FWD);
    assert.ok(viaFwd && viaFwd.pathId >= 2 && viaFwd.validated && !viaFwd.abandoned, JSON.stringify(n.client.paths()));
    assert.equal(n.client.paths().find((p) => p.pathId === 1)?.remoteAddress, S, 'path 1 did not move');
    assert.equal(n.server!.paths().find((p) => p.pathId === 1)?.remoteAddress, C, 'nor on the server');
    assert.equal(n.sentTo.get(RELAY_S) ?? 0, relayBefore, 'nothing on the abandoned relay path');
    assert.equal(n.client.isClosed || n.server!.isClosed, false);
  });

  it('a client that gets its candidates late starts a round then', () => {
    const n = new NatNet(16);
    n.drive(() => n.client.handshakeConfirmed && (n.server?.handshakeConfirmed ?? false));
    n.runFor(1_000);
    assert.equal(n.client.getStats().natTraversal!.rounds, 0, 'no candidate of ours yet');
    n.client.setLocalCandidates(n.now, [C]);
    n.runFor(200);
    assert.equal(n.client.getStats().natTraversal!.rounds, 1);
  });

  it('a server withdraws a candidate that is gone (REMOVE_ADDRESS)', () => {
    const n = new NatNet(17);
    n.connect();
    n.runFor(200);
    n.server!.setLocalCandidates(n.now, ['10.0.0.1:444']);
    n.runFor(200);
    assert.deepEqual(n.client.internals.nat!.machine!.remoteAddresses(), ['10.0.0.1:444']);
  });

  it('not negotiated with a peer that did not offer it: no state, no probe, and its frames are PROTOCOL_VIOLATION', () => {
    const n = new NatNet(18, { multipath: true }, { multipath: true, natTraversal: false });
    n.connect();
    n.runFor(6_000);
    assert.equal(n.client.getStats().natTraversal, null);
    assert.equal(n.client.internals.nat!.machine, null);
    assert.equal(n.server!.internals.nat, null);
    assert.equal(n.directFromClient.length, 0);
    for (const [from, frame] of [
      ['server', { kind: 'addAddress', sequence: 0, ip: Uint8Array.of(10, 0, 0, 1), port: 443 }],
      ['client', { kind: 'reachOut', round: 1, ip: Uint8Array.of(10, 0, 0, 2), port: 5000 }],
    ] as const) {
      const p = new Pair({ seed: testSeed(19), link: { delayMs: 10 }, clientTransport: { multipath: true, natTraversal: false }, serverTransport: { multipath: true } });
      p.handshake();
      p.runFor(100);
      injectPacket(p, from, frameBytes(frame), PacketSpace.Application);
      p.runFor(50);
      assert.equal(p.conn(from === 'client' ? 'server' : 'client')!.closeInfo?.code, TransportErrorCode.PROTOCOL_VIOLATION, frame.kind);
    }
  });

  it('a lost frame is sent again while still true (NatLink)', () => {
    const server = new NatLink();
    server.setLocalCandidates(0, ['10.0.0.1:1', '10.0.0.1:2']);
    server.start('server', 32, 32, 333);
    const add0 = server.peekFrame()!;
    assert.equal(add0.kind, 'addAddress');
    server.onFrameSent();
    server.onFrameSent();
    assert.equal(server.peekFrame(), undefined);
    server.onFrameLost(add0);
    assert.deepEqual(server.peekFrame(), add0, 'still ours: owed again');
    server.onFrameSent();
    server.setLocalCandidates(0, ['10.0.0.1:2']);
    const remove = server.peekFrame()!;
    assert.equal(remove.kind, 'removeAddress');
    server.onFrameSent();
    server.onFrameLost(add0);
    assert.equal(server.peekFrame(), undefined, 'withdrawn: the ADD_ADDRESS is no longer owed');
    server.onFrameLost(remove);
    assert.deepEqual(server.peekFrame(), remove);

    const client = new NatLink();
    client.setLocalCandidates(0, ['10.0.0.2:1']);
    client.start('client', 32, 32, 333);
    client.onConfirmed(0);
    client.onTimeout(0, true);
    const r1 = client.peekFrame()!;
    assert.equal(r1.kind, 'reachOut');
    client.onFrameSent();
    client.onTimeout(5000, true);
    client.onFrameSent();
    client.onFrameLost(r1);
    assert.equal(client.peekFrame(), undefined, 'a REACH_OUT of an older round is not owed');
  });

  it('a close from the peer for a bad NAT frame reads as PROTOCOL_VIOLATION', () => {
    // A client receiving REACH_OUT (a server's frame to receive) closes with PROTOCOL_VIOLATION.
    const n = new NatNet(19);
    n.connect();
    n.runFor(100);
    const nat = n.client.internals.nat!;
    assert.throws(() => nat.onReachOut(n.now, { kind: 'reachOut', round: 1, ip: new Uint8Array([1, 2, 3, 4]), port: 1 }), (e: { code?: number }) => e.code === TransportErrorCode.PROTOCOL_VIOLATION);
  });
});
