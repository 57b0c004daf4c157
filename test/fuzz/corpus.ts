import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pair, type Side } from '../harness/pair.js';
import { fromHex } from '../../src/codec/bytes.js';
import { initialKeys } from '../../src/quic/crypto/initial.js';
import { LongPacketType, tryParsePacketHeader } from '../../src/quic/packet/header.js';
import { openPacket } from '../../src/quic/packet/protection.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { FrameContext } from '../../src/quic/frames/types.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import { HandshakeReassembler } from '../../src/tls/messages.js';
import { Writer } from '../../src/codec/writer.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { ExtensionType, findExtension } from '../../src/tls/extensions.js';
import { decodeClientHello, decodeEncryptedExtensions, HandshakeType } from '../../src/tls/messages.js';

/**
 * The seed corpus of the fuzzer: real protocol bytes, not hand-written ones.
 *
 * - A handshake and a transfer (streams both ways, datagrams, a close) between two quic-peer
 *   connections in the Pair harness with null packet protection (TransportConfig.insecureNullKeys:
 *   the TLS handshake is real, packets travel in clear), recorded with `trace`. Every packet's
 *   plaintext payload (its frames) is kept with its packet number space and sender.
 * - The Initial packets of two real iroh 1.0.2 endpoints (test/fixtures/iroh-capture.json),
 *   opened with the Initial keys of the client's first DCID (RFC 9001 §5.2).
 * - The TLS handshake messages carried in the CRYPTO frames of both, and the transport parameters
 *   of the ClientHello / EncryptedExtensions (RFC 9001 §8.2).
 * - The raw datagrams of both captures (for header-level mutation).
 * - Until a multipath exchange can be captured: 1-RTT payloads holding every multipath
 *   (draft-ietf-quic-multipath §4) and n0 NAT traversal frame, written by our encoder
 *   (source 'extensions'), so the mutator reaches their decoders and the connection's refusal.
 *
 * The capture is deterministic (seeded Pair, virtual clock), so a corpus index names one input.
 */
export interface PayloadSeed {
  readonly from: Side;
  readonly space: PacketSpace;
  /** The frames of one packet, as sent. */
  readonly payload: Uint8Array;
  readonly source: 'pair' | 'iroh' | 'extensions';
}

export interface TlsSeed {
  readonly from: Side;
  /** A whole handshake message, header included. */
  readonly message: Uint8Array;
  readonly source: 'pair' | 'iroh';
}

export interface TransportParamsSeed {
  readonly from: Side;
  readonly bytes: Uint8Array;
}

export interface Corpus {
  readonly payloads: readonly PayloadSeed[];
  readonly tls: readonly TlsSeed[];
  readonly transportParams: readonly TransportParamsSeed[];
  readonly datagrams: ReadonlyArray<{ readonly from: Side; readonly bytes: Uint8Array; readonly source: 'pair' | 'iroh' }>;
}

let cached: Corpus | undefined;

/** The corpus (captured once per process). */
export function corpus(): Corpus {
  cached ??= capture();
  return cached;
}

function capture(): Corpus {
  const payloads: PayloadSeed[] = [];
  const datagrams: Array<{ from: Side; bytes: Uint8Array; source: 'pair' | 'iroh' }> = [];
  const crypto = new Map<string, Array<{ offset: number; data: Uint8Array }>>();
  const addCrypto = (key: string, offset: number, data: Uint8Array): void => {
    let l = crypto.get(key);
    if (!l) crypto.set(key, (l = []));
    l.push({ offset, data: data.slice() });
  };

  // --- quic-peer <-> quic-peer, null keys -------------------------------------------------------
  const p = new Pair({
    seed: 0x5eed,
    trace: true,
    // Jitter reorders and a few drops leave gaps: ACK frames with several ranges, retransmissions.
    link: { jitterMs: 4, dropRate: 0.03 },
    clientTransport: { insecureNullKeys: true },
    serverTransport: { insecureNullKeys: true, streams: { initialStreamWindow: 4096, initialConnectionWindow: 16384 } },
  });
  p.handshake();
  const c = p.client;
  const sent: number[] = [];
  for (let i = 0; i < 4; i++) {
    const id = c.openStream('bidi')!;
    c.writeStream(id, filled(1000 + 1700 * i, i));
    c.finishStream(id);
    sent.push(id);
  }
  const uni = c.openStream('uni')!;
  c.writeStream(uni, filled(700, 9));
  c.sendDatagram(filled(100, 3));
  c.sendDatagram(filled(10, 4));
  const doomed = c.openStream('bidi')!;
  c.writeStream(doomed, filled(300, 8));
  p.runFor(30);
  c.resetStream(doomed, 77);
  const s = p.server!;
  const drain = (): void => {
    for (const dir of ['bidi', 'uni'] as const) {
      for (let id = s.acceptStream(dir); id !== null; id = s.acceptStream(dir)) {
        if (dir === 'bidi') {
          s.writeStream(id, filled(1500, id));
          s.finishStream(id);
        }
      }
    }
    for (const id of [...sent, uni, doomed]) {
      try {
        while (s.readStream(id) !== null) { /* drain */ }
      } catch {
        /* reset or gone */
      }
    }
  };
  for (let i = 0; i < 20; i++) {
    drain();
    p.runFor(20);
  }
  s.sendDatagram(filled(50, 5));
  const sUni = s.openStream('uni');
  if (sUni !== null) s.writeStream(sUni, filled(200, 6));
  p.runFor(200);
  c.initiateKeyUpdate(p.now);
  c.ping();
  p.runFor(200);
  c.close(p.now, 7, 'fuzz corpus done');
  p.runFor(100);

  for (const d of p.trace) {
    datagrams.push({ from: d.from, bytes: d.bytes, source: 'pair' });
    for (const pk of plaintextPackets(d.bytes, d.from === 'client' ? 8 : 8)) {
      payloads.push({ from: d.from, space: pk.space, payload: pk.payload, source: 'pair' });
      collectCrypto(pk.payload, pk.space, (off, data) => addCrypto(`pair/${d.from}/${pk.space}`, off, data));
    }
  }

  // --- iroh <-> iroh Initials ----------------------------------------------------------------------
  const iroh = readIrohCapture();
  if (iroh) {
    let odcid: Uint8Array | undefined;
    for (const d of iroh) {
      const from: Side = d.dir === 'c2s' ? 'client' : 'server';
      const bytes = fromHex(d.hex);
      datagrams.push({ from, bytes, source: 'iroh' });
      const h = tryParsePacketHeader(bytes, 0, 8);
      if (h.kind !== 'long' || h.type !== LongPacketType.Initial) continue;
      odcid ??= h.dcid.slice();
      const keys = initialKeys(odcid, from === 'server').read;
      const copy = bytes.slice();
      const hh = tryParsePacketHeader(copy, 0, 8);
      if (hh.kind !== 'long') continue;
      const opened = openPacket(copy, hh, keys.header, keys.packet, -1);
      if (!opened) continue;
      const payload = opened.payload.slice();
      payloads.push({ from, space: PacketSpace.Initial, payload, source: 'iroh' });
      collectCrypto(payload, PacketSpace.Initial, (off, data) => addCrypto(`iroh/${from}/0`, off, data));
    }
  }

  // --- multipath and n0 NAT traversal frames (no capture yet: our encoder's) -----------------------
  for (const frames of EXTENSION_PAYLOADS) {
    const w = Writer.growable(256);
    for (const f of frames) writeFrame(w, f);
    payloads.push({ from: 'client', space: PacketSpace.Application, payload: w.bytes().slice(), source: 'extensions' });
  }

  // --- TLS messages from the reassembled CRYPTO streams -----------------------------------------------
  const tls: TlsSeed[] = [];
  const transportParams: TransportParamsSeed[] = [];
  for (const [key, chunks] of crypto) {
    const [source, from] = key.split('/') as ['pair' | 'iroh', Side];
    const stream = reassemble(chunks);
    const r = new HandshakeReassembler();
    r.push(stream);
    for (let m = safeNext(r); m; m = safeNext(r)) {
      tls.push({ from, message: m.raw, source });
      try {
        if (m.type === HandshakeType.client_hello) {
          const tp = findExtension(decodeClientHello(m.body).extensions, ExtensionType.quic_transport_parameters);
          if (tp) transportParams.push({ from: 'client', bytes: tp.slice() });
        } else if (m.type === HandshakeType.encrypted_extensions) {
          const tp = findExtension(decodeEncryptedExtensions(m.body).extensions, ExtensionType.quic_transport_parameters);
          if (tp) transportParams.push({ from: 'server', bytes: tp.slice() });
        }
      } catch {
        /* not a message we can read: still a TLS seed */
      }
    }
  }
  return { payloads, tls, transportParams, datagrams };
}

/** Packets of a datagram sent with null keys: header in clear, payload in clear, 16 zero tag bytes. */
export function plaintextPackets(bytes: Uint8Array, cidLength: number): Array<{ space: PacketSpace; payload: Uint8Array }> {
  const out: Array<{ space: PacketSpace; payload: Uint8Array }> = [];
  let at = 0;
  while (at < bytes.length) {
    const h = tryParsePacketHeader(bytes, at, cidLength);
    if (h.kind !== 'long' && h.kind !== 'short') break;
    const pnLen = (bytes[h.start]! & 0x03) + 1;
    const payload = bytes.slice(h.pnOffset + pnLen, h.end - 16);
    const space =
      h.kind === 'short' ? PacketSpace.Application : h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
    if (!(h.kind === 'long' && h.type === LongPacketType.ZeroRtt)) out.push({ space, payload });
    at = h.end;
  }
  return out;
}

const CONTEXT: Record<PacketSpace, FrameContext> = {
  [PacketSpace.Initial]: FrameContext.Initial,
  [PacketSpace.Handshake]: FrameContext.Handshake,
  [PacketSpace.Application]: FrameContext.OneRtt,
};

/** The frame context of a packet number space (its packet type's column in RFC 9000 Table 3). */
export function contextOf(space: PacketSpace): FrameContext {
  return CONTEXT[space];
}

function collectCrypto(payload: Uint8Array, space: PacketSpace, add: (offset: number, data: Uint8Array) => void): void {
  try {
    for (const f of decodeFrames(payload, CONTEXT[space])) if (f.kind === 'crypto') add(f.offset, f.data);
  } catch {
    /* a payload we cannot decode contributes no CRYPTO bytes */
  }
}

function reassemble(chunks: ReadonlyArray<{ offset: number; data: Uint8Array }>): Uint8Array {
  let end = 0;
  for (const c of chunks) end = Math.max(end, c.offset + c.data.length);
  const out = new Uint8Array(end);
  const have = new Uint8Array(end);
  for (const c of chunks) {
    out.set(c.data, c.offset);
    have.fill(1, c.offset, c.offset + c.data.length);
  }
  const gap = have.indexOf(0);
  return gap < 0 ? out : out.subarray(0, gap);
}

function safeNext(r: HandshakeReassembler): ReturnType<HandshakeReassembler['next']> {
  try {
    return r.next();
  } catch {
    return undefined;
  }
}

interface IrohDatagram {
  readonly dir: 'c2s' | 's2c';
  readonly hex: string;
}

function readIrohCapture(): IrohDatagram[] | undefined {
  // build/test/fuzz/corpus.js -> repository root is three levels up.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  try {
    const j = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'iroh-capture.json'), 'utf8')) as { datagrams: IrohDatagram[] };
    return j.datagrams;
  } catch {
    return undefined;
  }
}

function filled(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17) & 0xff;
  return b;
}

const ip4 = Uint8Array.of(127, 0, 0, 1);
const ip6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const cid8 = new Uint8Array(8).fill(0xc1);
const token = new Uint8Array(16).fill(0x7e);

/** Packets of multipath and NAT traversal frames, as a multipath peer would send them. */
const EXTENSION_PAYLOADS: ReadonlyArray<readonly Frame[]> = [
  [
    { kind: 'pathAck', pathId: 1, largest: 40, ackDelay: 25, ranges: [40, 30, 20, 10], ecn: null },
    { kind: 'pathAck', pathId: 0, largest: 9, ackDelay: 3, ranges: [9, 0], ecn: { ect0: 9, ect1: 0, ce: 1 } },
  ],
  [
    { kind: 'pathNewConnectionId', pathId: 1, sequence: 0, retirePriorTo: 0, connectionId: cid8, resetToken: token },
    { kind: 'pathRetireConnectionId', pathId: 1, sequence: 0 },
    { kind: 'pathCidsBlocked', pathId: 2, nextSequence: 1 },
  ],
  [
    { kind: 'pathStatus', pathId: 1, status: 'backup', sequence: 1 },
    { kind: 'pathStatus', pathId: 1, status: 'available', sequence: 2 },
    { kind: 'pathAbandon', pathId: 1, errorCode: 0 },
    { kind: 'maxPathId', maximum: 7 },
    { kind: 'pathsBlocked', maximum: 7 },
  ],
  [
    { kind: 'addAddress', sequence: 0, ip: ip4, port: 4433 },
    { kind: 'addAddress', sequence: 1, ip: ip6, port: 4433 },
    { kind: 'removeAddress', sequence: 0 },
  ],
  [
    { kind: 'reachOut', round: 1, ip: ip4, port: 50000 },
    { kind: 'reachOut', round: 1, ip: ip6, port: 50001 },
    { kind: 'pathChallenge', data: new Uint8Array(8).fill(3) },
  ],
];
