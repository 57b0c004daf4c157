import type { SeededRandom } from '../../src/tls/random.js';
import { Writer } from '../../src/codec/writer.js';
import { nullDirectionalKeys } from '../../src/quic/crypto/null.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { writeCryptoFrameHeader } from '../../src/quic/frames/encode.js';
import { LongPacketType, tryParsePacketHeader, writeLongHeader } from '../../src/quic/packet/header.js';
import { sealPacket } from '../../src/quic/packet/protection.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import { HandshakeReassembler } from '../../src/tls/messages.js';
import { Pair } from '../harness/pair.js';
import { contextOf, corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { checkBounds, closeOutcome, service } from './oracle.js';
import { mutateTlsMessage } from './tls-mutate.js';

/**
 * Target `serverflight`: the TLS CLIENT against a mutated server flight. A Pair with null packet
 * protection runs until the server has answered the ClientHello; the server's datagrams are held
 * back (dropped on the link, kept in the trace). Each input is that flight with ONE handshake
 * message mutated as a TLS structure (ServerHello, EncryptedExtensions with the transport
 * parameters, CertificateRequest, Certificate with the raw public key, CertificateVerify,
 * Finished: tls-mutate.ts), re-split into CRYPTO frames and packets with the server's connection
 * IDs, and delivered to the waiting client. The flight is the live one, so everything before the
 * mutated message passes the transcript; the mutated message meets the real client state machine.
 * Properties: no exception escapes; the client closes, if at all, with a defined transport error
 * (a TLS alert as CRYPTO_ERROR 0x100+alert) and keeps its state under the caps.
 */
export class ServerFlightTarget implements Target {
  readonly name = 'serverflight';
  readonly description = 'the TLS client of a live handshake fed the real server flight with one message mutated (null keys)';
  readonly epochLength = 32;
  private seed = 1;
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;
  private messages: Array<{ space: PacketSpace; raw: Uint8Array }> = [];
  private readonly buf = new Uint8Array(1500);

  reset(epochSeed: number): void {
    this.seed = (epochSeed % 100_000) + 1;
    this.messages = this.start().messages;
  }

  /** A Pair whose client waits for the server's flight, and that flight's handshake messages. */
  private start(): { p: Pair; messages: Array<{ space: PacketSpace; raw: Uint8Array }>; scid: Uint8Array; dcid: Uint8Array } {
    const p = new Pair({
      seed: this.seed,
      trace: true,
      serverToClient: { dropIndices: new Set(Array.from({ length: 32 }, (_, i) => i)) },
      clientTransport: { insecureNullKeys: true },
      serverTransport: { insecureNullKeys: true },
    });
    p.drive(() => p.trace.some((d) => d.from === 'server'), 5_000);
    p.runFor(1); // the rest of the flight
    const streams = new Map<PacketSpace, Uint8Array[]>();
    let scid = new Uint8Array(0);
    let dcid = new Uint8Array(0);
    for (const d of p.trace) {
      if (d.from !== 'server') continue;
      let at = 0;
      while (at < d.bytes.length) {
        const h = tryParsePacketHeader(d.bytes, at, 8);
        if (h.kind !== 'long') break;
        scid = h.scid.slice();
        dcid = h.dcid.slice();
        const space = h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
        const pnLen = (d.bytes[h.start]! & 3) + 1;
        for (const f of decodeFrames(d.bytes.subarray(h.pnOffset + pnLen, h.end - 16), contextOf(space))) {
          if (f.kind === 'crypto') {
            const l = streams.get(space) ?? [];
            l[f.offset] = f.data.slice(); // offsets are distinct in one flight
            streams.set(space, l);
          }
        }
        at = h.end;
      }
    }
    const messages: Array<{ space: PacketSpace; raw: Uint8Array }> = [];
    for (const [space, chunks] of streams) {
      const r = new HandshakeReassembler();
      for (const c of chunks) if (c) r.push(c);
      for (let m = r.next(); m; m = r.next()) messages.push({ space, raw: m.raw });
    }
    return { p, messages, scid, dcid };
  }

  generate(rng: SeededRandom): FuzzInput {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, corpus().payloads.map((p) => p.payload));
    }
    const i = rng.int(this.messages.length);
    const donors = [...this.messages.map((m) => m.raw), ...corpus().tls.map((t) => t.message)];
    const bytes = mutateTlsMessage(this.mutator, this.messages[i]!.raw, donors);
    return { kind: 'message', bytes, aim: String(i), ops: [`msg${this.messages[i]!.raw[0]}`] };
  }

  exec(input: FuzzInput): string {
    const { p, messages, scid, dcid } = this.start();
    const which = Number(input.aim ?? 0);
    let pn = 0;
    for (const space of [PacketSpace.Initial, PacketSpace.Handshake]) {
      const stream = concat(messages.map((m, i) => (m.space !== space ? new Uint8Array(0) : i === which ? input.bytes : m.raw)));
      for (let off = 0; off < stream.length; off += 1000) {
        const chunk = stream.subarray(off, off + 1000);
        p.client.handleDatagram(p.now, packet(space, dcid, scid, pn++, off, chunk));
      }
    }
    service(p.client, p.now, this.buf);
    p.runFor(50);
    const closed = closeOutcome(p.client, 'client');
    checkBounds(p.client, 'client');
    if (closed) return closed;
    return p.client.isConnected ? 'connected' : 'waiting';
  }
}

/** A long-header packet of `space` carrying `data` at CRYPTO `offset`, with null protection. */
function packet(space: PacketSpace, dcid: Uint8Array, scid: Uint8Array, pn: number, offset: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 120);
  const w = new Writer(out);
  const type = space === PacketSpace.Initial ? LongPacketType.Initial : LongPacketType.Handshake;
  const marks = writeLongHeader(w, { type, version: QUIC_VERSION_1, dcid, scid }, pn, 2, 2);
  writeCryptoFrameHeader(w, offset, data.length);
  w.bytesOf(data);
  const end = sealPacket(w, marks, pn, nullDirectionalKeys());
  return out.slice(0, end);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
