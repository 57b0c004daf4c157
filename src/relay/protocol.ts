import { blake3 } from '@noble/hashes/blake3.js';
import { DecodeError } from '../codec/errors.js';
import { Reader } from '../codec/reader.js';
import { bytesEqual, utf8 } from '../codec/bytes.js';
import { ed25519Sign, ed25519Signer, ed25519Verify } from '../tls/crypto.js';

/*
 * The iroh relay protocol (iroh-relay 1.0.2, `protos/{common,handshake,relay}.rs`; IROH.md, "The
 * relay protocol"): the frames carried one per binary WebSocket message, the v2 handshake, the
 * challenge signature and the TLS keying-material header. Pure functions over bytes: no socket,
 * no timer. Every decode failure is a `RelayProtocolError` (never anything else).
 *
 * A frame is a QUIC varint frame type followed by its payload. Public keys in frames are NOT
 * checked to be curve points here (iroh's key cache does; a relay only uses them as map keys and
 * a client compares them with the ids it dialled): a bad key simply matches no endpoint.
 */

/** Frame types shared by the handshake and the relay protocol (iroh `FrameType`). */
export const FrameType = {
  ServerChallenge: 0,
  ClientAuth: 1,
  ServerConfirmsAuth: 2,
  ServerDeniesAuth: 3,
  ClientToRelayDatagram: 4,
  ClientToRelayDatagramBatch: 5,
  RelayToClientDatagram: 6,
  RelayToClientDatagramBatch: 7,
  EndpointGone: 8,
  Ping: 9,
  Pong: 10,
  /** v1 only (a UTF-8 problem text); v2 sends Status instead. */
  Health: 11,
  Restarting: 12,
  /** v2 only. */
  Status: 13,
} as const;

/** Largest frame payload (after the type): iroh `MAX_PACKET_SIZE`. */
export const MAX_PACKET_SIZE = 64 * 1024;
/** Largest WebSocket message either side accepts: iroh `MAX_FRAME_SIZE`. */
export const MAX_FRAME_SIZE = 1024 * 1024;
/** An endpoint id (Ed25519 public key) on the wire. */
export const ID_LENGTH = 32;
/** Largest datagram contents of one datagram frame (payload minus id and ECN byte). */
export const MAX_DATAGRAM_CONTENTS = MAX_PACKET_SIZE - ID_LENGTH - 1;
/** Largest contents of a batch frame (minus the u16 segment size as well). */
export const MAX_BATCH_CONTENTS = MAX_PACKET_SIZE - ID_LENGTH - 1 - 2;

/** The WebSocket subprotocols (`sec-websocket-protocol`), preferred first (iroh `ProtocolVersion::ALL`). */
export const SUBPROTOCOL_V2 = 'iroh-relay-v2';
export const SUBPROTOCOL_V1 = 'iroh-relay-v1';
export const SUBPROTOCOLS = [SUBPROTOCOL_V2, SUBPROTOCOL_V1] as const;
export type ProtocolVersion = 1 | 2;

/** The HTTP paths of a relay (iroh `RELAY_PATH`, `RELAY_PROBE_PATH`). */
export const RELAY_PATH = '/relay';
export const PROBE_PATH = '/ping';
/** Request header carrying the keying-material authentication over TLS (iroh `CLIENT_AUTH_HEADER`). */
export const CLIENT_AUTH_HEADER = 'x-iroh-relay-client-auth-v1';

/** Status codes of the v2 Status frame (iroh `Status`); other values decode as themselves. */
export const RelayStatus = { Healthy: 0, SameEndpointIdConnected: 1, RateLimited: 2 } as const;

/** The subprotocol name of a version, or undefined for any other header value. */
export function protocolVersionOf(subprotocol: string | undefined): ProtocolVersion | undefined {
  if (subprotocol === SUBPROTOCOL_V2) return 2;
  if (subprotocol === SUBPROTOCOL_V1) return 1;
  return undefined;
}

/** Why a frame could not be decoded. */
export type RelayProtocolErrorCode = 'truncated' | 'unknown-type' | 'too-large' | 'invalid' | 'unexpected-type' | 'not-in-version';

/** A malformed, oversized or unexpected relay frame. */
export class RelayProtocolError extends Error {
  override readonly name = 'RelayProtocolError';
  constructor(
    readonly code: RelayProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Datagrams of one frame: `contents` is one datagram when `segmentSize` is 0, else several of
 * `segmentSize` bytes (the last may be shorter), as iroh's `Datagrams` (GSO-style batching).
 */
export interface Datagrams {
  /** The ECN codepoint byte (0 = not ECT; iroh sends 2, ECT(0)). */
  ecn: number;
  /** 0 for a single datagram (frames 4/6), else the batch's segment size (frames 5/7). */
  segmentSize: number;
  contents: Uint8Array;
}

/** What a client sends once authenticated. */
export type ClientToRelayMsg =
  | { type: 'datagrams'; dst: Uint8Array; datagrams: Datagrams }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array };

/** What a relay sends once the client is authenticated. */
export type RelayToClientMsg =
  | { type: 'datagrams'; src: Uint8Array; datagrams: Datagrams }
  | { type: 'endpointGone'; id: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  | { type: 'status'; status: number }
  | { type: 'health'; problem: string }
  | { type: 'restarting'; reconnectInMs: number; tryForMs: number };

/** The handshake messages (iroh `protos/handshake.rs`, postcard bodies). */
export type HandshakeMsg =
  | { type: 'challenge'; challenge: Uint8Array }
  | { type: 'clientAuth'; publicKey: Uint8Array; signature: Uint8Array }
  | { type: 'confirms' }
  | { type: 'denies'; reason: string };

// ---------------------------------------------------------------------------------------------
// Relay frames

/** Exact encoded size of a client frame. */
export function sizeClientToRelay(msg: ClientToRelayMsg): number {
  if (msg.type === 'datagrams') return 1 + ID_LENGTH + sizeDatagrams(msg.datagrams);
  return 1 + 8;
}

/** Encodes a client frame (one WebSocket message). */
export function encodeClientToRelay(msg: ClientToRelayMsg): Uint8Array {
  const out = new Uint8Array(sizeClientToRelay(msg));
  switch (msg.type) {
    case 'datagrams':
      out[0] = msg.datagrams.segmentSize > 0 ? FrameType.ClientToRelayDatagramBatch : FrameType.ClientToRelayDatagram;
      out.set(checkId(msg.dst), 1);
      writeDatagrams(out, 1 + ID_LENGTH, msg.datagrams);
      break;
    case 'ping':
    case 'pong':
      out[0] = msg.type === 'ping' ? FrameType.Ping : FrameType.Pong;
      out.set(check8(msg.data), 1);
      break;
  }
  return out;
}

/** Decodes a client frame. Views alias `bytes`. Throws `RelayProtocolError`. */
export function decodeClientToRelay(bytes: Uint8Array): ClientToRelayMsg {
  const { type, r } = readType(bytes);
  switch (type) {
    case FrameType.ClientToRelayDatagram:
    case FrameType.ClientToRelayDatagramBatch: {
      const dst = take(r, ID_LENGTH, 'destination id');
      return { type: 'datagrams', dst, datagrams: readDatagrams(r, type === FrameType.ClientToRelayDatagramBatch) };
    }
    case FrameType.Ping:
    case FrameType.Pong:
      return { type: type === FrameType.Ping ? 'ping' : 'pong', data: exact(r, 8, type === FrameType.Ping ? 'Ping' : 'Pong') };
    default:
      throw new RelayProtocolError('unexpected-type', `frame type ${type} is not one a client sends`);
  }
}

/** Exact encoded size of a relay frame. */
export function sizeRelayToClient(msg: RelayToClientMsg): number {
  switch (msg.type) {
    case 'datagrams':
      return 1 + ID_LENGTH + sizeDatagrams(msg.datagrams);
    case 'endpointGone':
      return 1 + ID_LENGTH;
    case 'ping':
    case 'pong':
      return 1 + 8;
    case 'status':
      return 1 + 1;
    case 'health':
      return 1 + utf8(msg.problem).length;
    case 'restarting':
      return 1 + 8;
  }
}

/** Encodes a relay frame (one WebSocket message). */
export function encodeRelayToClient(msg: RelayToClientMsg): Uint8Array {
  const out = new Uint8Array(sizeRelayToClient(msg));
  const dv = new DataView(out.buffer);
  switch (msg.type) {
    case 'datagrams':
      out[0] = msg.datagrams.segmentSize > 0 ? FrameType.RelayToClientDatagramBatch : FrameType.RelayToClientDatagram;
      out.set(checkId(msg.src), 1);
      writeDatagrams(out, 1 + ID_LENGTH, msg.datagrams);
      break;
    case 'endpointGone':
      out[0] = FrameType.EndpointGone;
      out.set(checkId(msg.id), 1);
      break;
    case 'ping':
    case 'pong':
      out[0] = msg.type === 'ping' ? FrameType.Ping : FrameType.Pong;
      out.set(check8(msg.data), 1);
      break;
    case 'status':
      out[0] = FrameType.Status;
      out[1] = msg.status & 0xff;
      break;
    case 'health':
      out[0] = FrameType.Health;
      out.set(utf8(msg.problem), 1);
      break;
    case 'restarting':
      // Two big-endian u32 milliseconds (iroh `RelayToClientMsg::Restarting`).
      out[0] = FrameType.Restarting;
      dv.setUint32(1, clampU32(msg.reconnectInMs));
      dv.setUint32(5, clampU32(msg.tryForMs));
      break;
  }
  return out;
}

/**
 * Decodes a relay frame as a client of protocol `version` (Health is v1 only, Status v2 only, as
 * iroh's client checks). Views alias `bytes`. Throws `RelayProtocolError`.
 */
export function decodeRelayToClient(bytes: Uint8Array, version: ProtocolVersion = 2): RelayToClientMsg {
  const { type, r } = readType(bytes);
  switch (type) {
    case FrameType.RelayToClientDatagram:
    case FrameType.RelayToClientDatagramBatch: {
      const src = take(r, ID_LENGTH, 'source id');
      return { type: 'datagrams', src, datagrams: readDatagrams(r, type === FrameType.RelayToClientDatagramBatch) };
    }
    case FrameType.EndpointGone:
      return { type: 'endpointGone', id: exact(r, ID_LENGTH, 'EndpointGone') };
    case FrameType.Ping:
    case FrameType.Pong:
      return { type: type === FrameType.Ping ? 'ping' : 'pong', data: exact(r, 8, type === FrameType.Ping ? 'Ping' : 'Pong') };
    case FrameType.Health: {
      if (version !== 1) throw new RelayProtocolError('not-in-version', 'Health frame in protocol v2');
      return { type: 'health', problem: strictUtf8(take(r, r.remaining, 'Health'), 'Health') };
    }
    case FrameType.Restarting: {
      const b = exact(r, 8, 'Restarting');
      const dv = new DataView(b.buffer, b.byteOffset, 8);
      return { type: 'restarting', reconnectInMs: dv.getUint32(0), tryForMs: dv.getUint32(4) };
    }
    case FrameType.Status: {
      if (version < 2) throw new RelayProtocolError('not-in-version', 'Status frame in protocol v1');
      // iroh reads the first byte and ignores the rest; unknown values are kept as they are.
      if (r.remaining < 1) throw new RelayProtocolError('invalid', 'empty Status frame');
      return { type: 'status', status: r.u8() };
    }
    default:
      throw new RelayProtocolError('unexpected-type', `frame type ${type} is not one a relay sends`);
  }
}

/**
 * Splits the datagrams of a frame into single datagrams (views into `d.contents`): iroh sends
 * batches (frame 5, so 7 to us) in practice, and QUIC wants one datagram at a time.
 */
export function splitDatagrams(d: Datagrams): Uint8Array[] {
  const c = d.contents;
  if (d.segmentSize === 0 || d.segmentSize >= c.length) return [c];
  const out: Uint8Array[] = [];
  for (let at = 0; at < c.length; at += d.segmentSize) out.push(c.subarray(at, Math.min(at + d.segmentSize, c.length)));
  return out;
}

/**
 * Packs datagrams bound for one destination into as few frames' contents as possible: a run of
 * equal-size datagrams (the last of a run may be shorter) becomes one batch, within
 * `MAX_BATCH_CONTENTS`; anything else goes alone. Copies: the inputs may be reused afterwards.
 */
export function packDatagrams(datagrams: readonly Uint8Array[], ecn = 0): Datagrams[] {
  const out: Datagrams[] = [];
  let i = 0;
  while (i < datagrams.length) {
    const first = datagrams[i]!;
    const seg = first.length;
    let j = i + 1;
    let total = seg;
    // Extend the run while sizes match; one shorter datagram may close it.
    while (j < datagrams.length && seg > 0 && total + datagrams[j]!.length <= MAX_BATCH_CONTENTS) {
      const len = datagrams[j]!.length;
      if (len === 0 || len > seg) break;
      total += len;
      j++;
      if (len < seg) break;
    }
    if (j - i === 1) {
      out.push({ ecn, segmentSize: 0, contents: first.slice() });
    } else {
      const contents = new Uint8Array(total);
      let at = 0;
      for (let k = i; k < j; k++) {
        contents.set(datagrams[k]!, at);
        at += datagrams[k]!.length;
      }
      out.push({ ecn, segmentSize: seg, contents });
    }
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Handshake frames (postcard bodies: a byte slice is a LEB128 length then the bytes, a fixed
// array is its bytes, a unit struct is nothing)

/** Encodes a handshake message. */
export function encodeHandshake(msg: HandshakeMsg): Uint8Array {
  switch (msg.type) {
    case 'challenge': {
      if (msg.challenge.length !== 16) throw new RangeError('a challenge is 16 bytes');
      const out = new Uint8Array(17);
      out[0] = FrameType.ServerChallenge;
      out.set(msg.challenge, 1);
      return out;
    }
    case 'clientAuth': {
      // 01 ‖ pubkey[32] ‖ 0x40 ‖ sig[64]: 98 bytes.
      const out = new Uint8Array(1 + 32 + 1 + 64);
      out[0] = FrameType.ClientAuth;
      out.set(checkId(msg.publicKey), 1);
      out[33] = 64;
      if (msg.signature.length !== 64) throw new RangeError('an Ed25519 signature is 64 bytes');
      out.set(msg.signature, 34);
      return out;
    }
    case 'confirms':
      return Uint8Array.of(FrameType.ServerConfirmsAuth);
    case 'denies': {
      const reason = utf8(msg.reason);
      const len = leb128(reason.length);
      const out = new Uint8Array(1 + len.length + reason.length);
      out[0] = FrameType.ServerDeniesAuth;
      out.set(len, 1);
      out.set(reason, 1 + len.length);
      return out;
    }
  }
}

/** Decodes a handshake message. Throws `RelayProtocolError` (a frame of another type included). */
export function decodeHandshake(bytes: Uint8Array): HandshakeMsg {
  const { type, r } = readType(bytes);
  switch (type) {
    case FrameType.ServerChallenge:
      return { type: 'challenge', challenge: take(r, 16, 'ServerChallenge') };
    case FrameType.ClientAuth: {
      const publicKey = take(r, 32, 'ClientAuth public key');
      if (readLeb128(r, 'ClientAuth') !== 64) throw new RelayProtocolError('invalid', 'ClientAuth signature is not 64 bytes');
      return { type: 'clientAuth', publicKey, signature: take(r, 64, 'ClientAuth signature') };
    }
    case FrameType.ServerConfirmsAuth:
      return { type: 'confirms' };
    case FrameType.ServerDeniesAuth: {
      const len = readLeb128(r, 'ServerDeniesAuth');
      return { type: 'denies', reason: strictUtf8(take(r, len, 'ServerDeniesAuth reason'), 'ServerDeniesAuth') };
    }
    default:
      throw new RelayProtocolError('unexpected-type', `frame type ${type} during the handshake`);
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication

const CHALLENGE_CONTEXT = utf8('iroh-relay handshake v1 challenge signature');
/** The TLS exporter label of the keying-material authentication (RFC 5705 / RFC 8446 §7.5). */
export const KEYING_MATERIAL_LABEL = 'iroh-relay handshake v1';

/** What the client signs for a challenge: blake3 derive_key(context, challenge), 32 bytes. */
export function challengeMessage(challenge: Uint8Array): Uint8Array {
  return blake3(challenge, { context: CHALLENGE_CONTEXT });
}

/** The ClientAuth answer to a challenge, signed with the 32-byte Ed25519 seed `secretKey`. */
export function signChallenge(secretKey: Uint8Array, challenge: Uint8Array): HandshakeMsg & { type: 'clientAuth' } {
  const signer = ed25519Signer(secretKey);
  return { type: 'clientAuth', publicKey: signer.publicKey, signature: ed25519Sign(signer, challengeMessage(challenge)) };
}

/** True when `auth` is a valid signature of `challenge` by its public key. */
export function verifyChallenge(publicKey: Uint8Array, signature: Uint8Array, challenge: Uint8Array): boolean {
  return ed25519Verify(publicKey, challengeMessage(challenge), signature);
}

/**
 * Exports TLS keying material (node's `TLSSocket.exportKeyingMaterial(length, label, context)`).
 * Returns undefined when the connection cannot export (then the challenge is used).
 */
export type KeyingMaterialExporter = (length: number, label: string, context: Uint8Array) => Uint8Array | undefined;

const HEADER_BODY_LENGTH = 32 + 1 + 64 + 16;

/**
 * The `x-iroh-relay-client-auth-v1` header value: base64url (no padding) of postcard
 * `{ public_key[32], signature: 0x40 ‖ sig[64], key_material_suffix[16] }`, where 32 bytes of
 * keying material are exported with label "iroh-relay handshake v1" and the public key as
 * context; the first 16 are signed, the last 16 sent as they are (iroh `KeyMaterialClientAuth`).
 */
export function keyMaterialAuthHeader(secretKey: Uint8Array, exporter: KeyingMaterialExporter): string | undefined {
  const signer = ed25519Signer(secretKey);
  const km = exporter(32, KEYING_MATERIAL_LABEL, signer.publicKey);
  if (!km || km.length !== 32) return undefined;
  const body = new Uint8Array(HEADER_BODY_LENGTH);
  body.set(signer.publicKey, 0);
  body[32] = 64;
  body.set(ed25519Sign(signer, km.subarray(0, 16)), 33);
  body.set(km.subarray(16, 32), 97);
  return Buffer.from(body).toString('base64url');
}

/**
 * Checks a keying-material header against our side of the TLS connection: the public key it
 * proves, or a `RelayProtocolError` ('invalid') saying why not. The server falls back to the
 * challenge when it fails, as iroh does.
 */
export function verifyKeyMaterialAuthHeader(value: string, exporter: KeyingMaterialExporter): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new RelayProtocolError('invalid', `${CLIENT_AUTH_HEADER} is not base64url`);
  const body = new Uint8Array(Buffer.from(value, 'base64url'));
  if (body.length !== HEADER_BODY_LENGTH || body[32] !== 64) {
    throw new RelayProtocolError('invalid', `${CLIENT_AUTH_HEADER} is not a key-material authentication (${body.length} bytes)`);
  }
  const publicKey = body.slice(0, 32);
  const km = exporter(32, KEYING_MATERIAL_LABEL, publicKey);
  if (!km || km.length !== 32) throw new RelayProtocolError('invalid', 'no TLS keying material on our side');
  if (!bytesEqual(km.subarray(16, 32), body.subarray(97, 113))) {
    throw new RelayProtocolError('invalid', 'keying material suffix mismatch (not the same TLS connection)');
  }
  if (!ed25519Verify(publicKey, km.subarray(0, 16), body.subarray(33, 97))) {
    throw new RelayProtocolError('invalid', 'keying material signature invalid');
  }
  return publicKey;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function readType(bytes: Uint8Array): { type: number; r: Reader } {
  if (bytes.length > MAX_FRAME_SIZE) throw new RelayProtocolError('too-large', `message of ${bytes.length} bytes (limit ${MAX_FRAME_SIZE})`);
  const r = new Reader(bytes);
  let type: number;
  try {
    type = r.varint();
  } catch (e) {
    throw new RelayProtocolError('truncated', e instanceof DecodeError ? `frame type: ${e.message}` : 'frame type unreadable');
  }
  if (type > FrameType.Status) throw new RelayProtocolError('unknown-type', `unknown frame type ${type}`);
  // iroh: the payload after the type is at most MAX_PACKET_SIZE (FrameTooLarge).
  if (r.remaining > MAX_PACKET_SIZE) {
    throw new RelayProtocolError('too-large', `frame payload of ${r.remaining} bytes (limit ${MAX_PACKET_SIZE})`);
  }
  return { type, r };
}

function take(r: Reader, n: number, what: string): Uint8Array {
  if (r.remaining < n) throw new RelayProtocolError('truncated', `${what}: need ${n} bytes, have ${r.remaining}`);
  const v = r.buf.subarray(r.pos, r.pos + n);
  r.pos += n;
  return v;
}

function exact(r: Reader, n: number, what: string): Uint8Array {
  if (r.remaining !== n) throw new RelayProtocolError(r.remaining < n ? 'truncated' : 'invalid', `${what} payload must be ${n} bytes, is ${r.remaining}`);
  return take(r, n, what);
}

function readDatagrams(r: Reader, batch: boolean): Datagrams {
  // iroh `Datagrams::from_bytes`: an ECN byte, for a batch a big-endian u16 segment size (0 means
  // no batching), then the contents (possibly empty).
  if (r.remaining < (batch ? 3 : 1)) throw new RelayProtocolError('truncated', `datagram frame without ${batch ? 'ECN and segment size' : 'ECN byte'}`);
  const ecn = r.u8();
  const segmentSize = batch ? r.u16() : 0;
  return { ecn, segmentSize, contents: take(r, r.remaining, 'datagrams') };
}

function sizeDatagrams(d: Datagrams): number {
  return 1 + (d.segmentSize > 0 ? 2 : 0) + d.contents.length;
}

function writeDatagrams(out: Uint8Array, at: number, d: Datagrams): void {
  out[at++] = d.ecn & 0xff;
  if (d.segmentSize > 0) {
    if (d.segmentSize > 0xffff) throw new RangeError(`segment size ${d.segmentSize} does not fit a u16`);
    out[at++] = d.segmentSize >> 8;
    out[at++] = d.segmentSize & 0xff;
  }
  out.set(d.contents, at);
}

function checkId(id: Uint8Array): Uint8Array {
  if (id.length !== ID_LENGTH) throw new RangeError(`an endpoint id is ${ID_LENGTH} bytes, got ${id.length}`);
  return id;
}

function check8(data: Uint8Array): Uint8Array {
  if (data.length !== 8) throw new RangeError(`Ping/Pong data is 8 bytes, got ${data.length}`);
  return data;
}

function clampU32(ms: number): number {
  return Math.max(0, Math.min(0xffffffff, Math.round(ms)));
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function strictUtf8(b: Uint8Array, what: string): string {
  try {
    return strictDecoder.decode(b);
  } catch {
    throw new RelayProtocolError('invalid', `${what}: text is not UTF-8`);
  }
}

/** Postcard's unsigned varint (LEB128). */
function leb128(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

function readLeb128(r: Reader, what: string): number {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (r.remaining < 1) throw new RelayProtocolError('truncated', `${what}: truncated length`);
    const b = r.u8();
    v += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return v;
  }
  throw new RelayProtocolError('invalid', `${what}: length varint too long`);
}
