import type { SeededRandom } from '../../src/tls/random.js';
import type { Connection } from '../../src/quic/connection/connection.js';
import type { EndpointCore } from '../../src/quic/endpoint/endpoint-core.js';
import { fromHex, toHex } from '../../src/codec/bytes.js';
import { Writer } from '../../src/codec/writer.js';
import { initialKeys } from '../../src/quic/crypto/initial.js';
import { writeCryptoFrameHeader } from '../../src/quic/frames/encode.js';
import { LongPacketType, writeLongHeader } from '../../src/quic/packet/header.js';
import { sealPacket } from '../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { HandshakeType } from '../../src/tls/messages.js';
import { Identities } from '../unit/endpoint/net.js';
import { corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { Finding, checkBounds, closeOutcome } from './oracle.js';
import { mutateTlsMessage } from './tls-mutate.js';

/**
 * Target `clienthello`: mutated ClientHellos (quic-peer's and iroh's, mutated as TLS structures:
 * extensions dropped, repeated, retyped, spliced, transport parameters bent; tls-mutate.ts) sent
 * as the CRYPTO frame of a genuine client Initial (RFC 9001 §5.2 Initial keys of a fresh DCID) to
 * a server EndpointCore. Each input opens a new connection attempt, so the TLS server and the
 * transport-parameter checks see every mutation from their first byte (no handshake to pay for).
 * Properties: the endpoint records no internal error; every connection it created closes, if at
 * all, with a defined transport error (TLS alerts as CRYPTO_ERROR 0x100+alert, RFC 9001 §4.8) and
 * keeps its state under the caps.
 */
export class ClientHelloTarget implements Target {
  readonly name = 'clienthello';
  readonly description = 'mutated ClientHellos in genuine Initials to a server endpoint (the live TLS server)';
  readonly epochLength = 64;
  private ep!: EndpointCore;
  private now = 0;
  private n = 0;
  private readonly conns: Connection[] = [];
  private readonly buf = new Uint8Array(4096);
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;

  reset(epochSeed: number): void {
    this.ep = new Identities(epochSeed).server({ maxHandshakes: 1024 });
    this.now = 0;
    this.n = 0;
    this.conns.length = 0;
  }

  generate(rng: SeededRandom): FuzzInput {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, corpus().payloads.map((p) => p.payload));
    }
    const tls = corpus().tls;
    const hellos = tls.filter((t) => t.message[0] === HandshakeType.client_hello);
    const seed = hellos[rng.int(hellos.length)]!;
    const bytes = mutateTlsMessage(this.mutator, seed.message, tls.map((t) => t.message));
    const dcid = rng.fill(new Uint8Array(8 + rng.int(13)));
    return { kind: 'clienthello', bytes, aim: toHex(dcid), ops: [seed.source] };
  }

  exec(input: FuzzInput): string {
    const dcid = fromHex(input.aim ?? '0000000000000000');
    const datagram = initialWith(dcid, input.bytes);
    this.now += 1;
    const address = `127.0.0.9:${10_000 + (this.n++ % 50_000)}`;
    this.ep.handleDatagram(this.now, address, datagram);
    let label = 'dropped';
    for (let t = this.ep.pollTransmit(this.now, this.buf); t; t = this.ep.pollTransmit(this.now, this.buf)) {
      /* answers go nowhere */
    }
    if (this.ep.pollTimeout() <= this.now) this.ep.handleTimeout(this.now);
    for (let e = this.ep.pollEvent(); e; e = this.ep.pollEvent()) {
      if (e.type === 'incoming') {
        this.conns.push(e.connection);
        label = 'accepted';
      }
    }
    const st = this.ep.stats;
    if (st.internalErrors > 0) throw new Finding('endpoint-internal', String(this.ep.lastInternalError));
    if (this.ep.connectionCount > this.ep.maxConnections || this.ep.handshakesInFlight > this.ep.maxHandshakes) {
      throw new Finding('unbounded', `endpoint: ${this.ep.connectionCount} connections, ${this.ep.handshakesInFlight} handshakes in flight`);
    }
    const last = this.conns[this.conns.length - 1];
    for (const c of this.conns) {
      const o = closeOutcome(c, 'server');
      checkBounds(c, 'server');
      if (c === last && label === 'accepted' && o) label = o;
    }
    return label;
  }
}

/** A client Initial to `dcid` carrying `clientHello` in one CRYPTO frame, padded to 1200 bytes. */
function initialWith(dcid: Uint8Array, clientHello: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(1200, clientHello.length + 120));
  const w = new Writer(out);
  const lengthWidth = clientHello.length + 60 < 0x3fff ? 2 : 4;
  const marks = writeLongHeader(w, { type: LongPacketType.Initial, version: QUIC_VERSION_1, dcid, scid: dcid.subarray(0, 8) }, 0, 1, lengthWidth);
  writeCryptoFrameHeader(w, 0, clientHello.length);
  w.bytesOf(clientHello);
  if (w.pos < out.length - 16) w.zeros(out.length - 16 - w.pos);
  const end = sealPacket(w, marks, 0, initialKeys(dcid, true).write);
  return out.slice(0, end);
}
