/**
 * Reading a captured QUIC v1 conversation (UDP relay + our key log) with a small implementation of
 * packet protection that is independent of quic-peer's (node:crypto AEAD and header protection;
 * only HKDF-Expand-Label is shared), so the interop suite can check what crossed the wire:
 * which transport parameters each side advertised, iroh's NewSessionTickets, its keep-alive PINGs.
 *
 * Keys: Initial keys come from the client's first Destination Connection ID (RFC 9001 §5.2);
 * Handshake and 1-RTT keys from the NSS key log quic-peer writes (`keylog` endpoint option), whose
 * secrets are the TLS traffic secrets (RFC 9001 §5.1 derives key/iv/hp from them).
 *
 * Multipath (draft-ietf-quic-multipath, as iroh's noq speaks it) and iroh's n0 NAT traversal: their
 * frames are parsed and named; a 1-RTT packet to a connection id that a PATH_NEW_CONNECTION_ID
 * gave for path id n is opened with path n's nonce (the path id in the four bytes before the
 * packet number), so a capture of a multipath connection opens whole.
 */
import { createCipheriv, createDecipheriv, type DecipherGCM } from 'node:crypto';
import { hkdfExpandLabel, hkdfExtract } from '../../src/tls/hkdf.js';
import { decodePacketNumber } from '../../src/quic/packet/number.js';

export type Dir = 'c2s' | 's2c';
export interface Captured {
  dir: Dir;
  /** Milliseconds since the relay started. */
  ms: number;
  bytes: Uint8Array;
}

/** The TLS cipher suites of RFC 9846 §B.4 that QUIC uses. */
export type SuiteId = 0x1301 | 0x1302 | 0x1303;

interface Suite {
  hash: 'sha256' | 'sha384';
  aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  keyLen: number;
  hp: 'aes-128-ecb' | 'aes-256-ecb' | 'chacha20';
}

const SUITES: Record<SuiteId, Suite> = {
  0x1301: { hash: 'sha256', aead: 'aes-128-gcm', keyLen: 16, hp: 'aes-128-ecb' },
  0x1302: { hash: 'sha384', aead: 'aes-256-gcm', keyLen: 32, hp: 'aes-256-ecb' },
  0x1303: { hash: 'sha256', aead: 'chacha20-poly1305', keyLen: 32, hp: 'chacha20' },
};

export interface PacketKeys {
  suite: Suite;
  key: Uint8Array;
  iv: Uint8Array;
  hp: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** RFC 9001 §5.1: packet protection keys from a traffic secret. */
export function packetKeys(secret: Uint8Array, suiteId: SuiteId): PacketKeys {
  const suite = SUITES[suiteId];
  return {
    suite,
    key: hkdfExpandLabel(suite.hash, secret, 'quic key', EMPTY, suite.keyLen),
    iv: hkdfExpandLabel(suite.hash, secret, 'quic iv', EMPTY, 12),
    hp: hkdfExpandLabel(suite.hash, secret, 'quic hp', EMPTY, suite.keyLen),
  };
}

// RFC 9001 §5.2: the QUIC v1 Initial salt.
const INITIAL_SALT = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');

/** Initial keys of both directions from the client's first DCID (RFC 9001 §5.2). */
export function initialKeys(clientDcid: Uint8Array): Record<Dir, PacketKeys> {
  const initial = hkdfExtract('sha256', INITIAL_SALT, clientDcid);
  return {
    c2s: packetKeys(hkdfExpandLabel('sha256', initial, 'client in', EMPTY, 32), 0x1301),
    s2c: packetKeys(hkdfExpandLabel('sha256', initial, 'server in', EMPTY, 32), 0x1301),
  };
}

export type Space = 'initial' | 'handshake' | 'zeroRtt' | 'oneRtt';

export interface Packet {
  space: Space;
  dcid: Uint8Array;
  /** Source Connection ID of a long header (empty for 1-RTT). */
  scid: Uint8Array;
  pn: number;
  /** The multipath path id whose nonce opened it (0: path 0, or no multipath). */
  pathId: number;
  /** A short header's key phase bit (RFC 9001 §6); 0 for long headers. */
  keyPhase: number;
  payload: Uint8Array;
}

/** What `openPacket` may use beyond the space's keys (a conversation's 1-RTT state). */
export interface OpenOptions {
  /** The keys of a 1-RTT key phase bit (RFC 9001 §6), when they differ from `keysFor`'s. */
  phaseKeys?: (bit: number) => PacketKeys | undefined;
  /** The largest packet number opened so far in this packet number space (RFC 9000 §A.3 expansion). */
  largestPn?: (pathId: number) => number;
}

/** RFC 9001 §6.1: the next 1-RTT secret of a key update. */
export function nextTrafficSecret(secret: Uint8Array, suiteId: SuiteId): Uint8Array {
  const suite = SUITES[suiteId];
  return hkdfExpandLabel(suite.hash, secret, 'quic ku', EMPTY, suite.hash === 'sha384' ? 48 : 32);
}

/** A minimal varint reader (RFC 9000 §16), exact (bigint for ids) and as a number. */
class Cursor {
  off: number;
  constructor(
    readonly b: Uint8Array,
    off = 0,
  ) {
    this.off = off;
  }
  get atEnd(): boolean {
    return this.off >= this.b.length;
  }
  u8(): number {
    if (this.off >= this.b.length) throw new Error('truncated');
    return this.b[this.off++] as number;
  }
  bytes(n: number): Uint8Array {
    if (this.off + n > this.b.length) throw new Error('truncated');
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  uint(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.u8();
    return v;
  }
  varintBig(): bigint {
    const first = this.u8();
    const len = 1 << (first >> 6);
    let v = BigInt(first & 0x3f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(this.u8());
    return v;
  }
  varint(): number {
    return Number(this.varintBig());
  }
}

/**
 * Removes header protection and opens the packet at `at` (RFC 9001 §5.3-5.4). `keysFor` returns
 * the keys of a space (undefined: skip). Short headers need the DCID length (`shortDcidLen`);
 * `pathIdOf` gives the multipath path id of a short header's DCID (default: path 0).
 * Returns the packet (or null when no keys) and where the next coalesced packet starts.
 */
export function openPacket(
  dgram: Uint8Array,
  at: number,
  keysFor: (space: Space) => PacketKeys | undefined,
  shortDcidLen: number,
  pathIdOf: (dcid: Uint8Array) => number = () => 0,
  options: OpenOptions = {},
): { packet: Packet | null; next: number } {
  const c = new Cursor(dgram, at);
  const b0 = c.u8();
  let space: Space;
  let dcid: Uint8Array;
  let scid: Uint8Array = new Uint8Array(0);
  let end: number;
  if (b0 & 0x80) {
    if (c.uint(4) !== 1) throw new Error('not QUIC v1');
    dcid = c.bytes(c.u8());
    scid = c.bytes(c.u8());
    const type = (b0 & 0x30) >> 4;
    space = (['initial', 'zeroRtt', 'handshake', 'retry'] as const)[type] as Space;
    if (type === 3) throw new Error('Retry packets are not expected here');
    if (space === 'initial') c.bytes(c.varint()); // token
    const length = c.varint();
    end = c.off + length;
  } else {
    dcid = c.bytes(shortDcidLen);
    space = 'oneRtt';
    end = dgram.length;
  }
  const pnOffset = c.off;
  const keys = keysFor(space);
  if (keys === undefined) return { packet: null, next: end };
  // RFC 9001 §5.4.2: the sample starts 4 bytes after the start of the packet number field.
  const sample = dgram.subarray(pnOffset + 4, pnOffset + 20);
  const mask =
    keys.suite.hp === 'chacha20'
      ? // RFC 9001 §5.4.4: counter = sample[0..4] (LE), nonce = sample[4..16]: node's 16-byte IV layout.
        createCipheriv('chacha20', keys.hp, sample).update(new Uint8Array(5))
      : createCipheriv(keys.suite.hp, keys.hp, null).update(sample);
  const header = Buffer.from(dgram.subarray(at, pnOffset + 4));
  header[0] = (header[0] as number) ^ ((mask[0] as number) & (b0 & 0x80 ? 0x0f : 0x1f));
  const pnLen = ((header[0] as number) & 0x03) + 1;
  let pn = 0;
  for (let i = 0; i < pnLen; i++) {
    const j = pnOffset - at + i;
    header[j] = (header[j] as number) ^ (mask[1 + i] as number);
    pn = pn * 256 + (header[j] as number);
  }
  const pathId = space === 'oneRtt' ? pathIdOf(dcid) : 0;
  // RFC 9000 §A.3: expanded against the largest opened so far (given by a conversation).
  if (options.largestPn !== undefined) pn = decodePacketNumber(options.largestPn(pathId), pn, (8 * pnLen) as 8 | 16 | 24 | 32);
  const keyPhase = b0 & 0x80 ? 0 : ((header[0] as number) >> 2) & 1;
  const aead = (space === 'oneRtt' ? options.phaseKeys?.(keyPhase) : undefined) ?? keys;
  const aad = header.subarray(0, pnOffset - at + pnLen);
  const nonce = Buffer.from(aead.iv);
  for (let i = 0; i < 8; i++) nonce[11 - i] = (nonce[11 - i] as number) ^ (Math.floor(pn / 2 ** (8 * i)) & 0xff);
  // draft-ietf-quic-multipath §2.4 (noq): the nonce is IV XOR (path id, 32 bits, ‖ packet number,
  // 64 bits), left-padded; path 0 leaves the IV's bytes 0..3 alone, RFC 9001's nonce.
  for (let i = 0; i < 4; i++) nonce[3 - i] = (nonce[3 - i] as number) ^ ((pathId >>> (8 * i)) & 0xff);
  const body = dgram.subarray(pnOffset + pnLen, end - 16);
  // (The tag is 16 bytes for all three AEADs, node's default.)
  const d = createDecipheriv(aead.suite.aead, aead.key, nonce) as DecipherGCM;
  d.setAAD(aad);
  d.setAuthTag(dgram.subarray(end - 16, end));
  const payload = new Uint8Array(Buffer.concat([d.update(body), d.final()]));
  return { packet: { space, dcid, scid, pn, pathId, keyPhase, payload }, next: end };
}

export type Frame =
  | { type: 'padding' | 'ping' | 'handshakeDone' }
  | { type: 'ack' }
  | { type: 'crypto'; offset: number; data: Uint8Array }
  | { type: 'stream'; id: number; offset: number; len: number; fin: boolean }
  | { type: 'datagram'; len: number }
  | { type: 'connectionClose'; app: boolean; code: bigint; reason: string }
  /** draft-ietf-quic-multipath §4.4: a connection id for path id `pathId`. */
  | { type: 'pathNewConnectionId'; pathId: number; seq: number; cid: Uint8Array }
  /** Every other frame: its type and its name (RFC 9000 §19, the multipath draft §4, n0 NAT traversal). */
  | { type: 'other'; frameType: number; name: string; pathId?: number };

/** The names of the frames `parseFrames` reports as 'other' (and of the multipath ones it reads). */
export const FRAME_NAMES: ReadonlyMap<number, string> = new Map([
  [0x04, 'RESET_STREAM'],
  [0x05, 'STOP_SENDING'],
  [0x07, 'NEW_TOKEN'],
  [0x10, 'MAX_DATA'],
  [0x11, 'MAX_STREAM_DATA'],
  [0x12, 'MAX_STREAMS_BIDI'],
  [0x13, 'MAX_STREAMS_UNI'],
  [0x14, 'DATA_BLOCKED'],
  [0x15, 'STREAM_DATA_BLOCKED'],
  [0x16, 'STREAMS_BLOCKED_BIDI'],
  [0x17, 'STREAMS_BLOCKED_UNI'],
  [0x18, 'NEW_CONNECTION_ID'],
  [0x19, 'RETIRE_CONNECTION_ID'],
  [0x1a, 'PATH_CHALLENGE'],
  [0x1b, 'PATH_RESPONSE'],
  // draft-ietf-quic-multipath §4 (the codepoints noq and iroh 1.0 use).
  [0x3e, 'PATH_ACK'],
  [0x3f, 'PATH_ACK_ECN'],
  [0x3e75, 'PATH_ABANDON'],
  [0x3e76, 'PATH_STATUS_BACKUP'],
  [0x3e77, 'PATH_STATUS_AVAILABLE'],
  [0x3e78, 'PATH_NEW_CONNECTION_ID'],
  [0x3e79, 'PATH_RETIRE_CONNECTION_ID'],
  [0x3e7a, 'MAX_PATH_ID'],
  [0x3e7b, 'PATHS_BLOCKED'],
  [0x3e7c, 'PATH_CIDS_BLOCKED'],
  // iroh's n0 NAT traversal (noq's n0_nat_traversal).
  [0x3d7f90, 'ADD_ADDRESS'],
  [0x3d7f91, 'ADD_ADDRESS'],
  [0x3d7f92, 'REACH_OUT'],
  [0x3d7f93, 'REACH_OUT'],
  [0x3d7f94, 'REMOVE_ADDRESS'],
  // QUIC Address Discovery (draft-seemann-quic-address-discovery, noq's codepoints).
  [0x9f81a6, 'OBSERVED_ADDRESS'],
  [0x9f81a7, 'OBSERVED_ADDRESS'],
]);

/** A frame's name in reports: the type of a named variant, the name of an 'other' one. */
export function frameName(f: Frame): string {
  return f.type === 'other' ? f.name : f.type === 'pathNewConnectionId' ? 'PATH_NEW_CONNECTION_ID' : f.type;
}

/**
 * Parses the frames of a payload (RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-multipath §4, n0 NAT
 * traversal); throws on an unknown type.
 */
export function parseFrames(payload: Uint8Array): Frame[] {
  const c = new Cursor(payload);
  const out: Frame[] = [];
  const other = (frameType: number, pathId?: number): void => {
    out.push({ type: 'other', frameType, name: FRAME_NAMES.get(frameType) ?? `0x${frameType.toString(16)}`, ...(pathId === undefined ? {} : { pathId }) });
  };
  // ACK ranges (RFC 9000 §19.3): largest, delay, range count, first range, then gap/length pairs.
  const ackBody = (ecn: boolean): void => {
    c.varint();
    c.varint();
    const n = c.varint();
    c.varint();
    for (let i = 0; i < 2 * n; i++) c.varint();
    if (ecn) for (let i = 0; i < 3; i++) c.varint();
  };
  while (!c.atEnd) {
    const t = c.varint();
    if (t === 0x00) {
      // Runs of PADDING are one frame here.
      while (!c.atEnd && payload[c.off] === 0) c.off++;
      out.push({ type: 'padding' });
    } else if (t === 0x01) out.push({ type: 'ping' });
    else if (t === 0x02 || t === 0x03) {
      ackBody(t === 0x03);
      out.push({ type: 'ack' });
    } else if (t === 0x04) {
      c.varint(), c.varint(), c.varint();
      other(t);
    } else if (t === 0x05) {
      c.varint(), c.varint();
      other(t);
    } else if (t === 0x06) {
      const offset = c.varint();
      out.push({ type: 'crypto', offset, data: c.bytes(c.varint()) });
    } else if (t === 0x07) {
      c.bytes(c.varint());
      other(t);
    } else if (t >= 0x08 && t <= 0x0f) {
      const id = c.varint();
      const offset = t & 0x04 ? c.varint() : 0;
      const len = t & 0x02 ? c.varint() : payload.length - c.off;
      c.bytes(len);
      out.push({ type: 'stream', id, offset, len, fin: (t & 0x01) !== 0 });
    } else if ((t >= 0x10 && t <= 0x14) || (t >= 0x16 && t <= 0x17) || t === 0x19) {
      c.varint();
      other(t);
    } else if (t === 0x15) {
      c.varint(), c.varint();
      other(t);
    } else if (t === 0x18) {
      c.varint(), c.varint();
      c.bytes(c.u8());
      c.bytes(16);
      other(t);
    } else if (t === 0x1a || t === 0x1b) {
      c.bytes(8);
      other(t);
    } else if (t === 0x1c || t === 0x1d) {
      const code = c.varintBig();
      if (t === 0x1c) c.varint();
      const reason = Buffer.from(c.bytes(c.varint())).toString('utf8');
      out.push({ type: 'connectionClose', app: t === 0x1d, code, reason });
    } else if (t === 0x1e) out.push({ type: 'handshakeDone' });
    else if (t === 0x30 || t === 0x31) {
      const len = t === 0x31 ? c.varint() : payload.length - c.off;
      c.bytes(len);
      out.push({ type: 'datagram', len });
    } else if (t === 0x3e || t === 0x3f) {
      // PATH_ACK: Path Identifier, then an ACK frame's fields.
      const pathId = c.varint();
      ackBody(t === 0x3f);
      other(t, pathId);
    } else if (t === 0x3e78) {
      // PATH_NEW_CONNECTION_ID: path id, then NEW_CONNECTION_ID's fields (RFC 9000 §19.15).
      const pathId = c.varint();
      const seq = c.varint();
      c.varint(); // Retire Prior To
      const cid = c.bytes(c.u8());
      c.bytes(16); // Stateless Reset Token
      out.push({ type: 'pathNewConnectionId', pathId, seq, cid });
    } else if (t === 0x3e75 || t === 0x3e76 || t === 0x3e77 || t === 0x3e79 || t === 0x3e7c) {
      // PATH_ABANDON (error code), PATH_STATUS_* (sequence), PATH_RETIRE_CONNECTION_ID (sequence),
      // PATH_CIDS_BLOCKED (next sequence): a path id and one varint.
      const pathId = c.varint();
      c.varint();
      other(t, pathId);
    } else if (t === 0x3e7a || t === 0x3e7b) {
      // MAX_PATH_ID, PATHS_BLOCKED: a maximum path id.
      c.varint();
      other(t);
    } else if ((t >= 0x3d7f90 && t <= 0x3d7f93) || t === 0x9f81a6 || t === 0x9f81a7) {
      // ADD_ADDRESS (sequence) / REACH_OUT (round) / OBSERVED_ADDRESS (sequence): a varint, the
      // IPv4 (even type) or IPv6 (odd) address, a u16 port.
      c.varint();
      c.bytes(t & 1 ? 16 : 4);
      c.bytes(2);
      other(t);
    } else if (t === 0x3d7f94) {
      c.varint();
      other(t);
    } else throw new Error(`unknown frame type 0x${t.toString(16)}`);
  }
  return out;
}

/** The contiguous CRYPTO stream from offset 0 (gaps end it). */
export function cryptoStream(frames: ReadonlyArray<{ offset: number; data: Uint8Array }>): Uint8Array {
  const sorted = [...frames].sort((a, b) => a.offset - b.offset);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const f of sorted) {
    if (f.offset > at) break;
    const skip = at - f.offset;
    if (skip >= f.data.length) continue;
    parts.push(f.data.subarray(skip));
    at = f.offset + f.data.length;
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** TLS handshake messages (RFC 9846 §4: type u8, length u24, body) of a CRYPTO stream. */
export function handshakeMessages(stream: Uint8Array): Array<{ type: number; body: Uint8Array }> {
  const c = new Cursor(stream);
  const out: Array<{ type: number; body: Uint8Array }> = [];
  while (c.b.length - c.off >= 4) {
    const type = c.u8();
    const len = c.uint(3);
    if (c.b.length - c.off < len) break; // incomplete tail
    out.push({ type, body: c.bytes(len) });
  }
  return out;
}

/** Extensions of a ClientHello (1), ServerHello (2) or EncryptedExtensions (8) body. */
export function helloExtensions(
  type: number,
  body: Uint8Array,
): { suite?: number; sessionId?: Uint8Array; ext: Map<number, Uint8Array> } {
  const c = new Cursor(body);
  let suite: number | undefined;
  let sessionId: Uint8Array | undefined;
  if (type === 1 || type === 2) {
    c.bytes(2 + 32); // legacy_version, random
    sessionId = c.bytes(c.u8()); // legacy_session_id
    if (type === 1) {
      c.bytes(c.uint(2)); // cipher_suites
      c.bytes(c.u8()); // legacy_compression_methods
    } else {
      suite = c.uint(2);
      c.u8();
    }
  }
  const exts = new Cursor(c.bytes(c.uint(2)));
  const ext = new Map<number, Uint8Array>();
  while (!exts.atEnd) {
    const t = exts.uint(2);
    ext.set(t, exts.bytes(exts.uint(2)));
  }
  return { ext, ...(suite === undefined ? {} : { suite }), ...(sessionId === undefined ? {} : { sessionId }) };
}

export interface RawTransportParameter {
  id: bigint;
  value: Uint8Array;
}

/** The (id, value) list of a quic_transport_parameters extension (RFC 9000 §18), ids exact. */
export function rawTransportParameters(data: Uint8Array): RawTransportParameter[] {
  const c = new Cursor(data);
  const out: RawTransportParameter[] = [];
  while (!c.atEnd) {
    const id = c.varintBig();
    out.push({ id, value: c.bytes(c.varint()) });
  }
  return out;
}

/** A varint value (exact). */
export function varintValue(b: Uint8Array): bigint {
  return new Cursor(b).varintBig();
}

/** RFC 9000 §18.1: reserved (GREASE) transport parameter ids are 31 * N + 27. */
export const isGreaseParameter = (id: bigint): boolean => id >= 27n && (id - 27n) % 31n === 0n;

/** The transport parameter ids of RFC 9000 §18.2 and RFC 9221 §3. */
export const RFC_TRANSPORT_PARAMETER_IDS: ReadonlySet<bigint> = new Set([
  ...Array.from({ length: 0x11 }, (_, i) => BigInt(i)),
  0x20n,
]);

/**
 * Secrets from an NSS key log callback (the `keylog` endpoint option), by client random and label
 * (CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_TRAFFIC_SECRET_0...), for every connection.
 */
export class KeyLogSecrets {
  readonly secrets = new Map<string, Uint8Array>();
  readonly logger = (label: string, clientRandom: Uint8Array, secret: Uint8Array): void => {
    this.secrets.set(`${Buffer.from(clientRandom).toString('hex')} ${label}`, secret.slice());
  };
  /** The secrets of the connection whose ClientHello carried `clientRandom`, by label. */
  of(clientRandom: Uint8Array): Map<string, Uint8Array> {
    const prefix = `${Buffer.from(clientRandom).toString('hex')} `;
    const out = new Map<string, Uint8Array>();
    for (const [k, v] of this.secrets) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
    return out;
  }
}

export interface Conversation {
  suite: SuiteId;
  /** Every packet that could be opened, in capture order. */
  packets: Array<{ dir: Dir; ms: number; size: number; packet: Packet; frames: Frame[] }>;
  /** Packets that could not be opened (no keys or a later key phase). */
  unopened: number;
  /**
   * The first 20 of them: direction, time, size, header form, DCID (hex), and whether that DCID
   * was announced for a path id >= 1 in a frame the capture holds (one announced on a path the
   * capture did not see opens with the wrong path id's nonce).
   */
  unopenedPackets: Array<{ dir: Dir; ms: number; size: number; header: 'long' | 'short'; dcid: string; knownPathCid: boolean }>;
  /** CRYPTO streams per direction and space. */
  crypto: (dir: Dir, space: Space) => Uint8Array;
}

/**
 * Opens a captured conversation. `secrets` must hold the handshake and 1-RTT traffic secrets
 * (from our key log). Only key phase 0 of 1-RTT is opened.
 */
export function openConversation(datagrams: readonly Captured[], keylog: KeyLogSecrets, dcidLen = 8): Conversation {
  const first = datagrams.find((d) => d.dir === 'c2s');
  if (first === undefined) throw new Error('no client datagram captured');
  const fc = new Cursor(first.bytes, 5);
  const init = initialKeys(fc.bytes(fc.u8()));
  // The ClientHello's random names this connection's secrets in the key log.
  const ch = openPacket(first.bytes, 0, (s) => (s === 'initial' ? init.c2s : undefined), dcidLen).packet;
  const chCrypto = cryptoStream(parseFrames(ch?.payload ?? EMPTY).filter((f): f is Extract<Frame, { type: 'crypto' }> => f.type === 'crypto'));
  const chMsg = handshakeMessages(chCrypto).find((m) => m.type === 1);
  if (chMsg === undefined) throw new Error('no ClientHello in the first client datagram');
  const secrets = keylog.of(chMsg.body.subarray(2, 34));
  // The suite: from the ServerHello (first s2c Initial).
  const firstServer = datagrams.find((d) => d.dir === 's2c');
  if (firstServer === undefined) throw new Error('no server datagram captured');
  const sh = openPacket(firstServer.bytes, 0, (s) => (s === 'initial' ? init.s2c : undefined), dcidLen).packet;
  const shCrypto = cryptoStream(parseFrames(sh?.payload ?? EMPTY).filter((f): f is Extract<Frame, { type: 'crypto' }> => f.type === 'crypto'));
  const shMsg = handshakeMessages(shCrypto).find((m) => m.type === 2);
  if (shMsg === undefined) throw new Error('no ServerHello in the first server datagram');
  const suite = helloExtensions(2, shMsg.body).suite as SuiteId;
  const need = (label: string): Uint8Array | undefined => secrets.get(label);
  const keys = (label: string): PacketKeys | undefined => {
    const s = need(label);
    return s === undefined ? undefined : packetKeys(s, suite);
  };
  const byDir: Record<Dir, Partial<Record<Space, PacketKeys | undefined>>> = {
    c2s: { initial: init.c2s, handshake: keys('CLIENT_HANDSHAKE_TRAFFIC_SECRET'), oneRtt: keys('CLIENT_TRAFFIC_SECRET_0') },
    s2c: { initial: init.s2c, handshake: keys('SERVER_HANDSHAKE_TRAFFIC_SECRET'), oneRtt: keys('SERVER_TRAFFIC_SECRET_0') },
  };
  // RFC 9001 §6: each direction's 1-RTT key phases, followed across key updates (the key phase
  // bit flips: the next secret is "quic ku" of the current one; the header protection key stays).
  interface PhaseState { bit: number; secret: Uint8Array; keys: PacketKeys; prev: PacketKeys | undefined; next: PacketKeys | undefined }
  const phaseOf = (label: string, dirKeys: PacketKeys | undefined): PhaseState | undefined => {
    const secret = need(label);
    return secret === undefined || dirKeys === undefined ? undefined : { bit: 0, secret, keys: dirKeys, prev: undefined, next: undefined };
  };
  const phases: Record<Dir, PhaseState | undefined> = { c2s: phaseOf('CLIENT_TRAFFIC_SECRET_0', byDir.c2s.oneRtt), s2c: phaseOf('SERVER_TRAFFIC_SECRET_0', byDir.s2c.oneRtt) };
  const nextKeys = (st: PhaseState): PacketKeys => {
    if (st.next === undefined) {
      const k = packetKeys(nextTrafficSecret(st.secret, suite), suite);
      st.next = { ...k, hp: st.keys.hp };
    }
    return st.next;
  };
  // The largest packet number opened per direction, space and path id (RFC 9000 §A.3 expansion).
  const largest = new Map<string, number>();
  const packets: Conversation['packets'] = [];
  let unopened = 0;
  const unopenedPackets: Conversation['unopenedPackets'] = [];
  const noteUnopened = (d: Captured, at: number): void => {
    unopened++;
    if (unopenedPackets.length >= 20) return;
    const long = ((d.bytes[at] ?? 0) & 0x80) !== 0;
    const dcid = long ? d.bytes.subarray(at + 6, at + 6 + (d.bytes[at + 5] ?? 0)) : d.bytes.subarray(at + 1, at + 1 + dcidLen);
    unopenedPackets.push({ dir: d.dir, ms: d.ms, size: d.bytes.length - at, header: long ? 'long' : 'short', dcid: hex(dcid), knownPathCid: cidPaths[d.dir].has(hex(dcid)) });
  };
  // Connection ids of path ids >= 1 by the direction that uses them as DCID: a
  // PATH_NEW_CONNECTION_ID sent c2s gives a DCID of s2c packets, and the other way.
  const cidPaths: Record<Dir, Map<string, number>> = { c2s: new Map(), s2c: new Map() };
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const cryptoFrames = new Map<string, Array<{ offset: number; data: Uint8Array }>>();
  for (const d of datagrams) {
    let at = 0;
    while (at < d.bytes.length) {
      let r: ReturnType<typeof openPacket>;
      try {
        const st = phases[d.dir];
        const space = ((d.bytes[at] ?? 0) & 0x80) === 0 ? 'oneRtt' : `long${(d.bytes[at] ?? 0) & 0x30}`;
        const largestPn = (pathId: number): number => largest.get(`${d.dir}/${space}/${pathId}`) ?? -1;
        const pathOf = (dcid: Uint8Array): number => cidPaths[d.dir].get(hex(dcid)) ?? 0;
        const attempt = (other: PacketKeys | undefined): ReturnType<typeof openPacket> =>
          openPacket(d.bytes, at, (s) => byDir[d.dir][s], dcidLen, pathOf, { phaseKeys: (bit) => (st === undefined ? undefined : bit === st.bit ? st.keys : other), largestPn });
        // A packet of the other key phase bit is a late one of the previous phase (its keys, kept
        // until a packet of the current phase follows) or the first of the next (a key update).
        let updated = false;
        if (st === undefined || st.prev === undefined) {
          r = attempt(st === undefined ? undefined : nextKeys(st));
          updated = st !== undefined && r.packet?.space === 'oneRtt' && r.packet.keyPhase !== st.bit;
        } else {
          try {
            r = attempt(st.prev);
          } catch {
            r = attempt(nextKeys(st));
            updated = r.packet?.space === 'oneRtt' && r.packet.keyPhase !== st.bit;
          }
        }
        const p = r.packet;
        if (p !== null) {
          const k = `${d.dir}/${space}/${p.pathId}`;
          if (p.pn > (largest.get(k) ?? -1)) largest.set(k, p.pn);
          if (st !== undefined && updated) {
            // The key update happened: the old keys stay for late packets of before it.
            st.prev = st.keys;
            st.keys = nextKeys(st);
            st.secret = nextTrafficSecret(st.secret, suite);
            st.next = undefined;
            st.bit = p.keyPhase;
          } else if (st !== undefined && p.space === 'oneRtt' && p.keyPhase === st.bit) {
            st.prev = undefined;
          }
        }
      } catch {
        // Authentication failed: a 1-RTT packet of a path id whose connection id the capture never
        // saw announced (or keys the key log does not hold). Nothing follows a short header.
        noteUnopened(d, at);
        break;
      }
      if (r.packet === null) noteUnopened(d, at);
      at = r.next;
      if (r.packet === null) continue;
      const frames = parseFrames(r.packet.payload);
      packets.push({ dir: d.dir, ms: d.ms, size: d.bytes.length, packet: r.packet, frames });
      const k = `${d.dir}/${r.packet.space}`;
      const list = cryptoFrames.get(k) ?? [];
      for (const f of frames) {
        if (f.type === 'crypto') list.push(f);
        else if (f.type === 'pathNewConnectionId') cidPaths[d.dir === 'c2s' ? 's2c' : 'c2s'].set(hex(f.cid), f.pathId);
      }
      cryptoFrames.set(k, list);
      if (r.packet.space === 'oneRtt') break;
    }
  }
  return { suite, packets, unopened, unopenedPackets, crypto: (dir, space) => cryptoStream(cryptoFrames.get(`${dir}/${space}`) ?? []) };
}
