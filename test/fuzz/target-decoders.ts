import type { SeededRandom } from '../../src/tls/random.js';
import { DecodeError } from '../../src/codec/errors.js';
import { toHex } from '../../src/codec/bytes.js';
import { Writer } from '../../src/codec/writer.js';
import { TransportError, TransportErrorCode, transportErrorName } from '../../src/quic/errors.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/frame.js';
import { FrameContext } from '../../src/quic/frames/types.js';
import { initialKeys } from '../../src/quic/crypto/initial.js';
import { LongPacketType, parsePacketHeader, tryParsePacketHeader } from '../../src/quic/packet/header.js';
import { openPacket } from '../../src/quic/packet/protection.js';
import { decodeTransportParameters, encodeTransportParameters } from '../../src/quic/transport-params.js';
import { TlsAlert } from '../../src/tls/alerts.js';
import * as M from '../../src/tls/messages.js';
import * as X from '../../src/tls/extensions.js';
import { unwrapEd25519Spki } from '../../src/tls/rpk.js';
import { corpus } from './corpus.js';
import type { FuzzInput, Target } from './engine.js';
import { Mutator } from './mutate.js';
import { Finding, isDefinedTransportCode } from './oracle.js';
import { mutateTlsMessage, mutateTransportParams } from './tls-mutate.js';

/**
 * Target `decoders`: the codecs alone, stateless. Properties:
 * - frames (every packet-type context): decode, or throw a TransportError with a defined code;
 *   what decodes re-encodes and decodes to the same frames;
 * - packet headers: `tryParsePacketHeader` never throws, `parsePacketHeader` only DecodeError;
 *   an Initial opens or is dropped (null), never throws;
 * - TLS messages: the reassembler and the decoders throw only DecodeError / TlsAlert; what decodes
 *   re-encodes to the same bytes; extension bodies and raw public keys decode or fail typed;
 * - transport parameters: decode or TRANSPORT_PARAMETER_ERROR; what decodes round-trips.
 */
export class DecodersTarget implements Target {
  readonly name = 'decoders';
  readonly description = 'frame, packet-header, TLS message/extension, raw public key and transport-parameter decoders alone';
  readonly epochLength = 256;
  private mutator: Mutator | undefined;
  private rngOf: SeededRandom | undefined;

  reset(): void {}

  generate(rng: SeededRandom): FuzzInput {
    const c = corpus();
    const m = this.mutatorFor(rng);
    switch (rng.int(4)) {
      case 0:
      case 1: {
        const seed = c.payloads[rng.int(c.payloads.length)]!;
        const bytes = m.payload(seed.payload);
        return { kind: 'frames', bytes, ops: m.ops };
      }
      case 2: {
        if (rng.int(2) === 0) {
          const d = c.datagrams[rng.int(c.datagrams.length)]!;
          const bytes = m.bytes(d.bytes);
          return { kind: 'datagram', bytes, ops: m.ops };
        }
        const t = c.transportParams[rng.int(c.transportParams.length)]!;
        return { kind: 'tp', bytes: mutateTransportParams(m, t.bytes), aim: t.from, ops: ['tp'] };
      }
      default: {
        const t = c.tls[rng.int(c.tls.length)]!;
        const bytes = mutateTlsMessage(m, t.message, c.tls.map((x) => x.message));
        return { kind: 'tls', bytes, ops: ['tls'] };
      }
    }
  }

  exec(input: FuzzInput): string {
    switch (input.kind) {
      case 'frames':
        return this.frames(input.bytes);
      case 'datagram':
        return this.datagram(input.bytes);
      case 'tp':
        return this.transportParams(input.bytes, input.aim === 'server' ? 'server' : 'client');
      default:
        return this.tls(input.bytes);
    }
  }

  private mutatorFor(rng: SeededRandom): Mutator {
    if (this.rngOf !== rng || !this.mutator) {
      this.rngOf = rng;
      this.mutator = new Mutator(rng, corpus().payloads.map((p) => p.payload));
    }
    return this.mutator;
  }

  private frames(bytes: Uint8Array): string {
    let label = '';
    for (const ctx of [FrameContext.Initial, FrameContext.ZeroRtt, FrameContext.Handshake, FrameContext.OneRtt]) {
      let frames: Frame[];
      try {
        frames = decodeFrames(bytes, ctx);
      } catch (e) {
        if (!(e instanceof TransportError)) throw new Finding('frame-decoder', `context ${ctx}: threw ${String(e)} (not a TransportError)`);
        if (!isDefinedTransportCode(e.code) || e.code === TransportErrorCode.INTERNAL_ERROR) {
          throw new Finding('frame-decoder', `context ${ctx}: code ${e.code}`);
        }
        if (ctx === FrameContext.OneRtt) label = transportErrorName(e.code);
        continue;
      }
      // Round trip: what decodes encodes back to frames that decode the same.
      let again: Frame[];
      try {
        const w = Writer.growable(bytes.length + 64);
        for (const f of frames) writeFrame(w, f);
        again = decodeFrames(w.buf.slice(0, w.pos), ctx);
      } catch (e) {
        throw new Finding('frame-roundtrip', `context ${ctx}: decoded frames do not re-encode/decode: ${String(e)}`);
      }
      if (show(again) !== show(frames)) {
        throw new Finding('frame-roundtrip', `context ${ctx}: ${show(frames)} became ${show(again)}`);
      }
      if (ctx === FrameContext.OneRtt) label = 'ok';
    }
    return `frames:${label}`;
  }

  private datagram(bytes: Uint8Array): string {
    let at = 0;
    const kinds: string[] = [];
    while (at < bytes.length && kinds.length < 8) {
      const h = tryParsePacketHeader(bytes, at, 8);
      try {
        parsePacketHeader(bytes, at, 8);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw new Finding('header-decoder', `parsePacketHeader threw ${String(e)}`);
      }
      kinds.push(h.kind);
      if (h.kind === 'invalid') break;
      if (h.kind === 'long' && h.type === LongPacketType.Initial) {
        const keys = initialKeys(h.dcid.slice(), false).read;
        try {
          const copy = bytes.slice();
          const hh = tryParsePacketHeader(copy, at, 8);
          if (hh.kind === 'long') kinds.push(openPacket(copy, hh, keys.header, keys.packet, -1) ? 'opened' : 'dropped');
        } catch (e) {
          throw new Finding('packet-open', `opening a mutated Initial threw ${String(e)}`);
        }
      }
      if (h.kind !== 'long') break;
      at = h.end;
    }
    return `datagram:${kinds.slice(0, 3).join('+')}`;
  }

  private transportParams(bytes: Uint8Array, role: 'client' | 'server'): string {
    let p;
    try {
      p = decodeTransportParameters(bytes, role);
    } catch (e) {
      if (e instanceof TransportError && e.code === TransportErrorCode.TRANSPORT_PARAMETER_ERROR) return 'tp:error';
      throw new Finding('tp-decoder', `threw ${String(e)} (not TRANSPORT_PARAMETER_ERROR)`);
    }
    let again;
    try {
      again = decodeTransportParameters(encodeTransportParameters(p, role), role);
    } catch (e) {
      throw new Finding('tp-roundtrip', `decoded parameters do not re-encode/decode: ${String(e)}`);
    }
    if (show(again) !== show(p)) throw new Finding('tp-roundtrip', `${show(p)} became ${show(again)}`);
    return 'tp:ok';
  }

  private tls(bytes: Uint8Array): string {
    const r = new M.HandshakeReassembler();
    r.push(bytes);
    let msg: M.RawHandshake | undefined;
    try {
      msg = r.next();
    } catch (e) {
      typedTls(e, 'reassembler');
      return 'tls:too-long';
    }
    if (!msg) return 'tls:incomplete';
    const dec = DECODERS[msg.type];
    if (!dec) return 'tls:other-type';
    let decoded: unknown;
    try {
      decoded = dec.decode(msg.body);
    } catch (e) {
      typedTls(e, dec.name);
      return `tls:${dec.name}:${e instanceof TlsAlert ? `alert${e.alert}` : 'decode_error'}`;
    }
    const again = dec.encode(decoded);
    if (toHex(again) !== toHex(msg.raw)) throw new Finding('tls-roundtrip', `${dec.name} re-encodes differently`);
    for (const ext of dec.extensions(decoded)) {
      const f = EXT_DECODERS[ext.type];
      if (!f) continue;
      try {
        f(ext.data);
      } catch (e) {
        typedTls(e, `extension ${ext.type}`);
      }
    }
    if (msg.type === M.HandshakeType.certificate) {
      for (const entry of (decoded as M.Certificate).entries) {
        try {
          unwrapEd25519Spki(entry.data);
        } catch (e) {
          typedTls(e, 'raw public key');
        }
      }
    }
    return `tls:${dec.name}:ok`;
  }
}

function typedTls(e: unknown, where: string): void {
  if (!(e instanceof DecodeError) && !(e instanceof TlsAlert)) {
    throw new Finding('tls-decoder', `${where} threw ${String(e)} (not DecodeError/TlsAlert)`);
  }
}

interface Codec {
  readonly name: string;
  decode(body: Uint8Array): unknown;
  encode(m: unknown): Uint8Array;
  extensions(m: unknown): readonly X.Extension[];
}

const none = (): readonly X.Extension[] => [];
const DECODERS: Record<number, Codec> = {
  [M.HandshakeType.client_hello]: {
    name: 'ClientHello', decode: M.decodeClientHello, encode: (m) => M.encodeClientHello(m as M.ClientHello),
    extensions: (m) => (m as M.ClientHello).extensions,
  },
  [M.HandshakeType.server_hello]: {
    name: 'ServerHello', decode: M.decodeServerHello, encode: (m) => M.encodeServerHello(m as M.ServerHello),
    extensions: (m) => (m as M.ServerHello).extensions,
  },
  [M.HandshakeType.encrypted_extensions]: {
    name: 'EncryptedExtensions', decode: M.decodeEncryptedExtensions, encode: (m) => M.encodeEncryptedExtensions(m as M.EncryptedExtensions),
    extensions: (m) => (m as M.EncryptedExtensions).extensions,
  },
  [M.HandshakeType.certificate_request]: {
    name: 'CertificateRequest', decode: M.decodeCertificateRequest, encode: (m) => M.encodeCertificateRequest(m as M.CertificateRequest),
    extensions: (m) => (m as M.CertificateRequest).extensions,
  },
  [M.HandshakeType.certificate]: {
    name: 'Certificate', decode: M.decodeCertificate, encode: (m) => M.encodeCertificate(m as M.Certificate),
    extensions: (m) => (m as M.Certificate).entries.flatMap((e) => e.extensions),
  },
  [M.HandshakeType.certificate_verify]: {
    name: 'CertificateVerify', decode: M.decodeCertificateVerify, encode: (m) => M.encodeCertificateVerify(m as M.CertificateVerify), extensions: none,
  },
  [M.HandshakeType.finished]: {
    name: 'Finished', decode: (b) => M.decodeFinished(b, 32), encode: (m) => M.encodeFinished(m as M.Finished), extensions: none,
  },
  [M.HandshakeType.new_session_ticket]: {
    name: 'NewSessionTicket', decode: M.decodeNewSessionTicket, encode: (m) => M.encodeNewSessionTicket(m as M.NewSessionTicket),
    extensions: (m) => (m as M.NewSessionTicket).extensions,
  },
  [M.HandshakeType.key_update]: {
    name: 'KeyUpdate', decode: M.decodeKeyUpdate, encode: (m) => M.encodeKeyUpdate(m as M.KeyUpdate), extensions: none,
  },
};

const T = X.ExtensionType;
const EXT_DECODERS: Record<number, (b: Uint8Array) => unknown> = {
  [T.server_name]: X.decodeServerName,
  [T.supported_groups]: (b) => X.decodeU16List(b),
  [T.signature_algorithms]: (b) => X.decodeU16List(b),
  [T.application_layer_protocol_negotiation]: X.decodeAlpn,
  [T.client_certificate_type]: (b) => (b.length === 1 ? X.decodeCertTypeServer(b) : X.decodeCertTypesClient(b)),
  [T.server_certificate_type]: (b) => (b.length === 1 ? X.decodeCertTypeServer(b) : X.decodeCertTypesClient(b)),
  [T.supported_versions]: (b) => (b.length === 2 ? X.decodeSupportedVersionsServer(b) : X.decodeSupportedVersionsClient(b)),
  [T.cookie]: X.decodeCookie,
  [T.psk_key_exchange_modes]: X.decodePskModes,
  [T.key_share]: (b) => (b.length === 2 ? X.decodeKeyShareHrr(b) : safeEither(() => X.decodeKeyShareServer(b), () => X.decodeKeyShareClient(b))),
  [T.quic_transport_parameters]: (b) => {
    try {
      return decodeTransportParameters(b, 'client');
    } catch (e) {
      if (e instanceof TransportError) return undefined;
      throw e;
    }
  },
};

function safeEither(a: () => unknown, b: () => unknown): unknown {
  try {
    return a();
  } catch (e) {
    if (e instanceof DecodeError || e instanceof TlsAlert) return b();
    throw e;
  }
}

/** A stable text form of decoded values (bigints and byte views included) for comparisons. */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `0x${toHex(x)}`;
    return x;
  });
}
