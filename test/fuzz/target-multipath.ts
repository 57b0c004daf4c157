import type { SeededRandom } from '../../src/tls/random.js';
import { Writer } from '../../src/codec/writer.js';
import { TransportError, TransportErrorCode, transportErrorName } from '../../src/quic/errors.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { FrameContext } from '../../src/quic/frames/types.js';
import { NatTraversal } from '../../src/quic/connection/nat-traversal.js';
import { corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { Finding, isDefinedTransportCode } from './oracle.js';
import { show } from './target-decoders.js';

/**
 * Target `multipath`: the multipath (draft-ietf-quic-multipath §4) and n0 NAT traversal frames,
 * mutated from the corpus's 'extensions' payloads. Properties:
 * - in every packet type they decode or fail with a defined TransportError; what decodes
 *   re-encodes and decodes to the same frames;
 * - the NAT traversal state of both sides, fed the decoded frames as a peer would send them
 *   (ADD_ADDRESS / REMOVE_ADDRESS to a client, REACH_OUT to a server, PATH_RESPONSEs to both),
 *   fails only with PROTOCOL_VIOLATION and never holds more addresses than its limits.
 * The state lives for an epoch, so rounds, limits and removals accumulate across inputs.
 */
export class MultipathTarget implements Target {
  readonly name = 'multipath';
  readonly description = 'multipath and n0 NAT traversal frames: decoders, round trips, the NAT traversal state of both sides';
  readonly epochLength = 64;
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;
  private client = newState('client');
  private server = newState('server');
  private now = 0;

  reset(): void {
    this.client = newState('client');
    this.server = newState('server');
    this.now = 0;
  }

  generate(rng: SeededRandom): FuzzInput {
    const seeds = corpus().payloads.filter((p) => p.source === 'extensions');
    const seed = seeds[rng.int(seeds.length)]!;
    const m = this.mutatorFor(rng);
    return { kind: 'frames', bytes: m.payload(seed.payload, 0.5), ops: m.ops };
  }

  exec(input: FuzzInput): string {
    let label = '';
    for (const ctx of [FrameContext.Initial, FrameContext.ZeroRtt, FrameContext.Handshake, FrameContext.OneRtt]) {
      let frames: Frame[];
      try {
        frames = decodeFrames(input.bytes, ctx);
      } catch (e) {
        if (!(e instanceof TransportError)) throw new Finding('frame-decoder', `context ${ctx}: threw ${String(e)} (not a TransportError)`);
        if (!isDefinedTransportCode(e.code) || e.code === TransportErrorCode.INTERNAL_ERROR) throw new Finding('frame-decoder', `context ${ctx}: code ${e.code}`);
        if (ctx === FrameContext.OneRtt) label = `frames:${transportErrorName(e.code)}`;
        continue;
      }
      let again: Frame[];
      try {
        const w = Writer.growable(input.bytes.length + 64);
        for (const f of frames) writeFrame(w, f);
        again = decodeFrames(w.buf.slice(0, w.pos), ctx);
      } catch (e) {
        throw new Finding('frame-roundtrip', `context ${ctx}: decoded frames do not re-encode/decode: ${String(e)}`);
      }
      if (show(again) !== show(frames)) throw new Finding('frame-roundtrip', `context ${ctx}: ${show(frames)} became ${show(again)}`);
      if (ctx === FrameContext.OneRtt) label = `nat:${this.feed(frames)}`;
    }
    return label;
  }

  /** Hands the frames to the side that would receive them; returns what happened. */
  private feed(frames: readonly Frame[]): string {
    this.now += 10;
    const { client, server } = this;
    let outcome = 'ok';
    try {
      for (const f of frames) {
        switch (f.kind) {
          case 'addAddress':
            client.onAddAddress(f);
            break;
          case 'removeAddress':
            client.onRemoveAddress(f);
            break;
          case 'reachOut':
            server.onReachOut(this.now, f);
            break;
          case 'pathChallenge':
            // Our probes: every queued one leaves with this data; answers below may match them.
            for (const s of [client, server]) for (let a = s.nextProbe(); a !== undefined; a = s.nextProbe()) s.onProbeSent(a, f.data);
            break;
          case 'pathResponse':
            for (const s of [client, server]) for (const a of s.remoteAddresses()) s.onPathResponse(a, f.data);
            break;
          default:
            break;
        }
      }
      // The client starts a round now and then; both sides' retry timers run.
      if (client.localAddresses().length === 0) client.addLocalAddress('198.51.100.7:50000');
      if (this.now % 50 === 0) client.startRound(this.now);
      for (const s of [client, server]) s.onTimeout(Math.min(s.deadline, this.now + 5000));
      while (client.takePathToOpen() !== undefined);
    } catch (e) {
      if (!(e instanceof TransportError) || e.code !== TransportErrorCode.PROTOCOL_VIOLATION) {
        throw new Finding('nat-traversal', `threw ${String(e)} (not PROTOCOL_VIOLATION)`);
      }
      outcome = 'violation';
      this.reset(); // the connection would be closed
    }
    for (const s of [this.client, this.server]) {
      if (s.remoteAddresses().length > s.maxRemoteAddresses) throw new Finding('nat-bounds', `${s.role} keeps ${s.remoteAddresses().length} addresses`);
      if (s.localAddresses().length > s.maxLocalAddresses) throw new Finding('nat-bounds', `${s.role} announces ${s.localAddresses().length} addresses`);
    }
    return outcome;
  }

  private mutatorFor(rng: SeededRandom): Mutator {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, corpus().payloads.map((p) => p.payload));
    }
    return this.mutator;
  }
}

function newState(role: 'client' | 'server'): NatTraversal {
  return new NatTraversal({ role, maxRemoteAddresses: 4, maxLocalAddresses: 4, families: { ipv4: true, ipv6: true }, initialRttMs: 333 });
}
