import type { SeededRandom } from '../../src/tls/random.js';
import type { Connection } from '../../src/quic/connection/connection.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import { Pair, type TransportOptions } from '../harness/pair.js';
import { corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { checkBounds, closeOutcome, sealFrom, service } from './oracle.js';

/**
 * Targets `handshake`, `established` and `bounds`: a live server Connection in a Pair (real
 * keys), fed packets whose frames are mutated captures or generated hostile frames, sealed with
 * the client's current keys so they pass the AEAD and reach the frame layer.
 *
 * - `handshake`: the server has sent its flight and waits for the client's Finished; inputs are
 *   Handshake packets (some Initial, some 1-RTT that must wait for keys, RFC 9001 §5.7).
 * - `established`: after the handshake, with a stream open; inputs are 1-RTT packets (some in
 *   spaces already discarded).
 * - `client`: the other way round: an established CLIENT fed mutated 1-RTT packets sealed with
 *   the server's keys (server-only frames: HANDSHAKE_DONE, NEW_TOKEN, server-initiated streams).
 * - `bounds`: both phases, tight limits, mostly well-formed hostile frames that do NOT close the
 *   connection (out-of-order stream and CRYPTO data, packet-number gaps, CID and PATH_CHALLENGE
 *   floods, datagrams), so state accumulates; the caps are checked after every input.
 *
 * After every input the server transmits, fires due timers and drains events; the properties:
 * no exception leaves the connection, a close is a defined transport error (never
 * INTERNAL_ERROR), and everything buffered stays under its cap (oracle.ts). At the end of an
 * epoch the Pair runs on for a while so the client also digests the server's answers, under the
 * same properties.
 */
export type ConnectionPhase = 'handshake' | 'established' | 'bounds' | 'client';

/** Limits small enough for the fuzzer to reach them in an epoch. */
const TIGHT: TransportOptions = {
  maxCryptoBuffer: 4096,
  maxAckRanges: 8,
  datagramRecvQueue: 8,
  activeConnectionIdLimit: 4,
  streams: {
    initialStreamWindow: 8192,
    maxStreamWindow: 16384,
    initialConnectionWindow: 32768,
    maxConnectionWindow: 65536,
    maxConcurrentBidiStreams: 8,
    maxConcurrentUniStreams: 4,
  },
};

export class ConnectionTarget implements Target {
  readonly name: string;
  readonly description: string;
  readonly epochLength = 48;
  private pair: Pair | undefined;
  private phase: 'handshake' | 'established' = 'established';
  private now = 0;
  private readonly buf = new Uint8Array(1500);
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;
  private readonly donors: Uint8Array[];

  constructor(private readonly mode: ConnectionPhase) {
    this.name = mode;
    this.description = {
      handshake: 'a server Connection mid-handshake fed sealed mutated Initial/Handshake/1-RTT packets',
      established: 'an established server Connection fed sealed mutated 1-RTT packets',
      bounds: 'caps on buffered state after many well-formed hostile frames (tight limits)',
      client: 'an established client Connection fed sealed mutated 1-RTT packets from the server',
    }[mode];
    this.donors = corpus().payloads.map((p) => p.payload);
  }

  get exhausted(): boolean {
    return this.victim()?.isClosed ?? true;
  }

  reset(epochSeed: number): void {
    this.phase = this.mode === 'bounds' ? (epochSeed & 1 ? 'handshake' : 'established') : this.mode === 'client' ? 'established' : this.mode;
    const transport = this.mode === 'bounds' ? TIGHT : {};
    const p = new Pair({ seed: (epochSeed % 100_000) + 1, clientTransport: transport, serverTransport: transport });
    if (this.phase === 'handshake') {
      // Stop when the client has the server's flight (and Handshake keys) but the server has not
      // seen the client's Finished: the server is mid-handshake.
      p.drive(() => p.server !== undefined && p.client.internals.keys.canWrite(PacketSpace.Handshake), 10_000);
    } else {
      p.handshake();
      const id = p.client.openStream('bidi')!;
      p.client.writeStream(id, new Uint8Array(2000).fill(7));
      p.runFor(100);
    }
    this.pair = p;
    this.now = p.now;
  }

  generate(rng: SeededRandom): FuzzInput {
    const m = this.mutatorFor(rng);
    const space = this.pickSpace(rng);
    const pnSkip = this.mode === 'bounds' ? (rng.int(3) === 0 ? 1 + rng.int(6) : 0) : rng.int(16) === 0 ? rng.int(1000) : 0;
    let bytes: Uint8Array;
    if (this.mode === 'bounds' && rng.int(4) !== 0) {
      bytes = m.hostilePayload(1 + rng.int(4), true, space !== PacketSpace.Application);
    } else {
      const sender = this.mode === 'client' ? 'server' : 'client';
      const seeds = corpus().payloads.filter((p) => p.from === sender || rng.int(4) === 0);
      const seed = seeds[rng.int(seeds.length)]!;
      bytes = m.payload(seed.payload, this.mode === 'bounds' ? 0.5 : 0.25, true);
    }
    // Now and then the client starts a key update first (RFC 9001 §6): the packet carries the
    // other key phase, sealed with the next keys.
    const keyUpdate = this.phase === 'established' && rng.int(16) === 0;
    return { kind: 'frames', bytes, space, pnSkip, ops: m.ops, ...(keyUpdate ? { aim: 'key-update' } : {}) };
  }

  exec(input: FuzzInput): string {
    const p = this.pair!;
    const s = this.victim()!;
    const from = this.mode === 'client' ? p.server! : p.client;
    const space = (input.space ?? PacketSpace.Application) as PacketSpace;
    const padTo = space === PacketSpace.Initial ? 1200 : 0;
    const skip = input.pnSkip ?? 0;
    if (input.aim === 'key-update') from.initiateKeyUpdate(this.now);
    const bytes = sealFrom(from, this.now, space, input.bytes, skip, padTo) ?? sealFrom(from, this.now, PacketSpace.Application, input.bytes, skip);
    if (!bytes) return 'unsealable';
    this.now += 1;
    p.now = this.now;
    const received = s.packetsReceived;
    const buffered = s.internals.receiver.bufferedCount;
    s.handleDatagram(this.now, bytes);
    service(s, this.now, this.buf);
    const who = this.mode === 'client' ? 'client' : 'server';
    const closed = closeOutcome(s, who);
    checkBounds(s, who);
    if (closed) return closed;
    if (s.packetsReceived > received) return 'processed';
    return s.internals.receiver.bufferedCount > buffered ? 'buffered' : 'dropped';
  }

  endEpoch(): void {
    const p = this.pair!;
    // Let the Pair run: the client digests the server's answers (ACKs of gaps, PATH_RESPONSEs,
    // CONNECTION_CLOSE), the handshake goes on; neither side may throw or close with a bug.
    p.now = this.now;
    p.runFor(300);
    closeOutcome(p.client, 'client');
    if (p.server) {
      closeOutcome(p.server, 'server');
      checkBounds(p.server, 'server');
    }
    checkBounds(p.client, 'client');
  }

  /** The connection the inputs are aimed at. */
  private victim(): Connection | undefined {
    return this.mode === 'client' ? this.pair?.client : this.pair?.server;
  }

  /** The connections (tests). */
  get connections(): { client: Connection; server: Connection | undefined } {
    return { client: this.pair!.client, server: this.pair!.server };
  }

  private pickSpace(rng: SeededRandom): PacketSpace {
    const r = rng.int(8);
    if (this.phase === 'handshake') return r < 5 ? PacketSpace.Handshake : r < 6 ? PacketSpace.Initial : PacketSpace.Application;
    return r < 7 ? PacketSpace.Application : PacketSpace.Handshake;
  }

  private mutatorFor(rng: SeededRandom): Mutator {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, this.donors);
    }
    return this.mutator;
  }
}
