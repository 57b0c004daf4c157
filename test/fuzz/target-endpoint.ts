import type { SeededRandom } from '../../src/tls/random.js';
import type { Connection } from '../../src/quic/connection/connection.js';
import type { ConnectionHandle, EndpointCore } from '../../src/quic/endpoint/endpoint-core.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import { Identities, Net } from '../unit/endpoint/net.js';
import { corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { Finding, checkBounds, closeOutcome, sealFrom } from './oracle.js';

/**
 * Target `endpoint`: an EndpointCore (src/quic/endpoint/endpoint-core.ts) serving two established connections,
 * from clients A and B. Every input is aimed at A or at the endpoint at large:
 * - `sealed`: mutated frames sealed with client A's keys, from A's address;
 * - `raw`: byte-mutated datagrams: captured ones (quic-peer and iroh, long and short headers), a
 *   sealed packet of A mangled after sealing, short-header packets carrying B's connection ID
 *   (from A's address or B's), Initial-shaped and reset-shaped datagrams.
 *
 * Properties: the endpoint never records an internal error; A closes, if at all, with a defined
 * transport error; B is never closed or disturbed: after every input its server-side connection
 * is still open, and at the end of the epoch B still carries a stream both ways (RFC 9000 §5.2:
 * packets are routed by connection ID, and a packet that does not authenticate is dropped without
 * effect, §12.2 / RFC 9001 §5.5).
 */
const SERVER = '127.0.0.1:4433';
const ADDR_A = '127.0.0.2:50001';
const ADDR_B = '127.0.0.3:50002';

export class EndpointTarget implements Target {
  readonly name = 'endpoint';
  readonly description = 'an endpoint core with two connections: mutated datagrams aimed at one never close or disturb the other';
  readonly epochLength = 48;
  private net!: Net;
  private ids!: Identities;
  private server!: EndpointCore;
  private clientA!: Connection;
  private clientB!: Connection;
  private serverA!: { handle: ConnectionHandle; connection: Connection };
  private serverB!: { handle: ConnectionHandle; connection: Connection };
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;
  private round = 0;


  reset(epochSeed: number): void {
    const net = new Net((epochSeed % 100_000) + 1);
    const ids = new Identities(epochSeed);
    this.ids = ids;
    this.server = net.add(SERVER, ids.server());
    const a = net.add(ADDR_A, ids.client()).connect(0, SERVER, { tls: ids.clientTls() });
    const b = net.add(ADDR_B, ids.client()).connect(0, SERVER, { tls: ids.clientTls() });
    const accepted = (addr: string): { handle: ConnectionHandle; connection: Connection } | undefined => {
      for (const e of net.eventsOf(SERVER)) if (e.type === 'incoming' && e.remoteAddress === addr) return e;
      return undefined;
    };
    net.drive(
      () => a.connection.isConnected && b.connection.isConnected && !!accepted(ADDR_A)?.connection.isConnected && !!accepted(ADDR_B)?.connection.isConnected,
      10_000,
    );
    net.settle(50);
    this.net = net;
    this.clientA = a.connection;
    this.clientB = b.connection;
    this.serverA = accepted(ADDR_A)!;
    this.serverB = accepted(ADDR_B)!;
  }

  generate(rng: SeededRandom): FuzzInput {
    const m = this.mutatorFor(rng);
    const c = corpus();
    if (rng.int(5) < 3) {
      const seed = c.payloads[rng.int(c.payloads.length)]!;
      const bytes = rng.int(4) === 0 ? m.hostilePayload(1 + rng.int(3), rng.int(2) === 0) : m.payload(seed.payload, 0.25, true);
      // Sometimes from B's address: an authentic A packet there moves A to B's address (what a
      // NAT rebinding looks like); B must not notice.
      const aim = rng.int(8) === 0 ? 'A-from-B-address' : 'A';
      return { kind: 'sealed', bytes, space: rng.int(8) === 0 ? PacketSpace.Handshake : PacketSpace.Application, aim, ops: m.ops };
    }
    // Raw datagrams are made now, from the current state, and stored whole (replay is exact).
    const fromB = rng.int(4) === 0;
    let bytes: Uint8Array;
    switch (rng.int(4)) {
      case 0:
        bytes = m.bytes(c.datagrams[rng.int(c.datagrams.length)]!.bytes);
        break;
      case 1: {
        const sealed = sealFrom(this.clientA, this.net.now, PacketSpace.Application, m.payload(c.payloads[rng.int(c.payloads.length)]!.payload), 0, 0, true);
        bytes = m.bytes(sealed ?? new Uint8Array(40));
        break;
      }
      case 2: {
        // B's connection id with a body that cannot authenticate: from A's address or B's own.
        const dcid = this.clientB.internals.remoteCids.current;
        const body = rng.fill(new Uint8Array(20 + rng.int(1300)));
        bytes = new Uint8Array(1 + dcid.length + body.length);
        bytes[0] = 0x40 | (rng.nextU32() & 0x3f);
        bytes.set(dcid, 1);
        bytes.set(body, 1 + dcid.length);
        if (rng.int(3) === 0) {
          // Or a copy of a genuine B packet with one byte changed (header or payload).
          const genuine = sealFrom(this.clientB, this.net.now, PacketSpace.Application, Uint8Array.of(1), 0, 0, true);
          if (genuine) {
            bytes = m.bytes(genuine);
            // Never the genuine packet itself: B's client never sent it (its ACK would be a
            // protocol violation B's client is right to close for).
            if (bytes.length === genuine.length && bytes.every((x, i) => x === genuine[i])) bytes[bytes.length - 1]! ^= 1;
          }
        }
        break;
      }
      default: {
        // Reset-shaped: a short header with an unknown DCID, ending in 16 random bytes (or the
        // datagram of a captured short packet with its DCID replaced by B's).
        bytes = rng.fill(new Uint8Array(21 + rng.int(100)));
        bytes[0] = 0x40 | (bytes[0]! & 0x3f);
      }
    }
    return { kind: 'raw', bytes, aim: fromB ? 'B-address' : 'A-address', ops: m.ops };
  }

  exec(input: FuzzInput): string {
    const net = this.net;
    if (this.serverA.connection.isClosed) this.reconnectA();
    net.now += 1;
    let bytes = input.bytes;
    if (input.kind === 'sealed') {
      const sealed = sealFrom(this.clientA, net.now, (input.space ?? PacketSpace.Application) as PacketSpace, input.bytes)
        ?? sealFrom(this.clientA, net.now, PacketSpace.Application, input.bytes);
      if (!sealed) return 'unsealable';
      bytes = sealed;
    }
    const before = this.server.stats;
    const receivedA = this.serverA.connection.packetsReceived;
    const from = input.aim === 'B-address' || input.aim === 'A-from-B-address' ? ADDR_B : ADDR_A;
    this.server.handleDatagram(net.now, from, bytes);
    if (this.server.pollTimeout() <= net.now) this.server.handleTimeout(net.now);
    net.flush();
    this.checkEndpoint();
    const closed = closeOutcome(this.serverA.connection, 'A');
    checkBounds(this.serverA.connection, 'A');
    if (closed) return closed;
    const after = this.server.stats;
    if (after.statelessResetsSent > before.statelessResetsSent) return 'stateless-reset';
    if (after.versionNegotiationsSent > before.versionNegotiationsSent) return 'version-negotiation';
    if (after.droppedMalformed > before.droppedMalformed) return 'malformed';
    if (after.droppedUnroutable > before.droppedUnroutable) return 'unroutable';
    return this.serverA.connection.packetsReceived > receivedA ? 'A-processed' : 'dropped';
  }

  endEpoch(): void {
    // B still works: a stream from B's client, read to its end on the server, echoed back.
    const net = this.net;
    const id = this.clientB.openStream('bidi');
    if (id === null) throw new Finding('wrong-connection', 'B cannot open a stream');
    const msg = new Uint8Array(3000).fill(++this.round & 0xff);
    this.clientB.writeStream(id, msg);
    this.clientB.finishStream(id);
    const sb = this.serverB.connection;
    let got = 0;
    let echoed = false;
    let back = 0;
    net.drive(() => {
      got += readAll(sb, id);
      if (got === msg.length && !echoed) {
        sb.writeStream(id, Uint8Array.of(1, 2, 3));
        sb.finishStream(id);
        echoed = true;
      }
      back += readAll(this.clientB, id);
      return back === 3 || sb.isClosed || this.clientB.isClosed;
    }, 5_000);
    this.checkEndpoint();
    if (back !== 3) throw new Finding('wrong-connection', `B's stream did not complete (server got ${got}, client ${back})`);
    if (this.clientB.isClosed) throw new Finding('wrong-connection', `B's client closed: ${JSON.stringify(this.clientB.closeInfo)}`);
    closeOutcome(this.clientA, 'A-client');
  }

  /** A closed A is replaced by a new connection from the same client endpoint (B stays as it is). */
  private reconnectA(): void {
    const net = this.net;
    const before = new Set(net.eventsOf(SERVER).filter((e) => e.type === 'incoming').map((e) => (e as { handle: ConnectionHandle }).handle));
    const a = net.endpoints.get(ADDR_A)!.connect(net.now, SERVER, { tls: this.ids.clientTls() });
    let fresh: { handle: ConnectionHandle; connection: Connection } | undefined;
    net.drive(() => {
      for (const e of net.eventsOf(SERVER)) if (e.type === 'incoming' && !before.has(e.handle)) fresh = e;
      return a.connection.isConnected && fresh?.connection.isConnected === true;
    }, 10_000);
    this.clientA = a.connection;
    this.serverA = fresh!;
    this.checkEndpoint();
  }

  private checkEndpoint(): void {
    const st = this.server.stats;
    if (st.internalErrors > 0) {
      const e = this.server.lastInternalError;
      throw new Finding('endpoint-internal', `the endpoint caught a bug: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
    const b = this.serverB.connection;
    if (b.isClosed || this.server.connection(this.serverB.handle) !== b) {
      throw new Finding('wrong-connection', `input aimed at A disturbed B: ${JSON.stringify(b.closeInfo, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
  }

  private mutatorFor(rng: SeededRandom): Mutator {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, corpus().payloads.map((p) => p.payload));
    }
    return this.mutator;
  }
}

/** Reads what stream `id` has (0 when its receiving part is not there, or gone after its end). */
function readAll(c: Connection, id: number): number {
  let n = 0;
  while (!c.recvStream(id).isGone) {
    const x = c.readStream(id);
    if (!x) break;
    n += x.length;
  }
  return n;
}
