/**
 * What the interop runner reads from its pcap, read here from the relay's tap: the unprotected
 * parts of QUIC headers (RFC 9000 §17: long header type, connection IDs, Initial tokens, Retry
 * tokens), the ClientHello/ServerHello inside Initial packets (Initial keys derive from the
 * client's first DCID, RFC 9001 §5.2), and the key phase bit of 1-RTT packets (header protection
 * removed with the `quic hp` key of the first 1-RTT secrets from the key log, RFC 9001 §5.4;
 * header protection keys do not change on a key update, RFC 9001 §6).
 *
 * The packet opener is test/interop/wire.ts's, which is independent of quic-peer's own.
 */
import { createCipheriv } from 'node:crypto';
import {
  cryptoStream,
  handshakeMessages,
  helloExtensions,
  initialKeys,
  openPacket,
  packetKeys,
  parseFrames,
  type Frame,
  type PacketKeys,
  type SuiteId,
} from '../interop/wire.js';

export type LongType = 'initial' | '0rtt' | 'handshake' | 'retry';

export interface HeaderInfo {
  /** 'short' for a 1-RTT packet (then nothing follows in the datagram). */
  readonly type: LongType | 'short' | 'vn';
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Initial: the token; Retry: the retry token. */
  readonly token: Uint8Array;
  /** Where this packet starts and ends in the datagram. */
  readonly start: number;
  readonly end: number;
}

const LONG: readonly LongType[] = ['initial', '0rtt', 'handshake', 'retry'];

/** The headers of every packet coalesced in a datagram (RFC 9000 §12.2); stops at what does not parse. */
export function headers(d: Uint8Array, shortDcidLen = 8): HeaderInfo[] {
  const out: HeaderInfo[] = [];
  let at = 0;
  try {
    while (at < d.length) {
      const b0 = d[at] as number;
      if ((b0 & 0x80) === 0) {
        out.push({ type: 'short', dcid: d.subarray(at + 1, at + 1 + shortDcidLen), scid: EMPTY, token: EMPTY, start: at, end: d.length });
        break;
      }
      let p = at + 1;
      const version = readU32(d, p);
      p += 4;
      const dcidLen = byteAt(d, p++);
      const dcid = d.subarray(p, p + dcidLen);
      p += dcidLen;
      const scidLen = byteAt(d, p++);
      const scid = d.subarray(p, p + scidLen);
      p += scidLen;
      if (version === 0) {
        out.push({ type: 'vn', dcid, scid, token: EMPTY, start: at, end: d.length });
        break;
      }
      const type = LONG[(b0 >> 4) & 3] as LongType;
      if (type === 'retry') {
        // RFC 9000 §17.2.5: the token runs to the 16-byte integrity tag.
        out.push({ type, dcid, scid, token: d.subarray(p, d.length - 16), start: at, end: d.length });
        break;
      }
      let token: Uint8Array = EMPTY;
      if (type === 'initial') {
        const [len, n] = varint(d, p);
        p += n;
        token = d.subarray(p, p + len);
        p += len;
      }
      const [length, n] = varint(d, p);
      p += n;
      const end = p + length;
      if (end > d.length) break;
      out.push({ type, dcid, scid, token, start: at, end });
      at = end;
    }
  } catch {
    // A corrupted or truncated header: what parsed so far.
  }
  return out;
}

/** Whether the datagram carries a packet of `type`. */
export function carries(d: Uint8Array, type: HeaderInfo['type']): boolean {
  return headers(d).some((h) => h.type === type);
}

/**
 * The frames of the client's or server's Initial packets in a datagram, opened with the Initial
 * keys of `clientDcid` (the client's first DCID; after a Retry, the DCID the client then used).
 * Packets that do not open (corrupted, other keys) are skipped.
 */
export function initialFrames(d: Uint8Array, clientDcid: Uint8Array, fromClient: boolean): Frame[] {
  const keys = initialKeys(clientDcid);
  const out: Frame[] = [];
  let at = 0;
  while (at < d.length) {
    try {
      const r = openPacket(d, at, (s) => (s === 'initial' ? (fromClient ? keys.c2s : keys.s2c) : undefined), 8);
      if (r.packet) out.push(...parseFrames(r.packet.payload));
      at = r.next;
    } catch {
      break;
    }
  }
  return out;
}

/** The cipher suite the server chose, from a ServerHello inside `d`, or undefined. */
export function serverHelloSuite(d: Uint8Array, clientDcid: Uint8Array): number | undefined {
  const frames = initialFrames(d, clientDcid, false).filter((f): f is Extract<Frame, { type: 'crypto' }> => f.type === 'crypto');
  if (!frames.some((f) => f.offset === 0)) return undefined;
  try {
    const sh = handshakeMessages(cryptoStream(frames)).find((m) => m.type === 2);
    return sh ? helloExtensions(2, sh.body).suite : undefined;
  } catch {
    return undefined;
  }
}

/** The cipher suites a ClientHello inside `d` offers (RFC 9846 §4.1.2), or undefined. */
export function clientHelloSuites(d: Uint8Array, clientDcid: Uint8Array): number[] | undefined {
  const frames = initialFrames(d, clientDcid, true).filter((f): f is Extract<Frame, { type: 'crypto' }> => f.type === 'crypto');
  if (!frames.some((f) => f.offset === 0)) return undefined;
  const ch = handshakeMessages(cryptoStream(frames)).find((m) => m.type === 1);
  if (!ch) return undefined;
  const b = ch.body;
  // legacy_version (2), random (32), legacy_session_id (u8 length), cipher_suites (u16 length).
  let at = 34;
  at += 1 + (b[at] ?? 0);
  const len = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
  at += 2;
  const out: number[] = [];
  for (let i = 0; i + 1 < len && at + i + 1 < b.length; i += 2) out.push(((b[at + i] as number) << 8) | (b[at + i + 1] as number));
  return out;
}

/** Header protection of 1-RTT packets: reads the key phase bit (RFC 9001 §5.4.1, §6). */
export class KeyPhaseReader {
  private readonly keys: PacketKeys;
  constructor(secret0: Uint8Array, suite: SuiteId) {
    this.keys = packetKeys(secret0, suite);
  }

  /** The key phase of a 1-RTT packet (short header, `dcidLen`-byte DCID), or undefined. */
  keyPhase(d: Uint8Array, dcidLen = 8): 0 | 1 | undefined {
    if (d.length < 1 + dcidLen + 20 || ((d[0] as number) & 0x80) !== 0) return undefined;
    const pnOffset = 1 + dcidLen;
    const sample = d.subarray(pnOffset + 4, pnOffset + 20);
    const mask =
      this.keys.suite.hp === 'chacha20'
        ? createCipheriv('chacha20', this.keys.hp, sample).update(new Uint8Array(5))
        : createCipheriv(this.keys.suite.hp, this.keys.hp, null).update(sample);
    const b0 = (d[0] as number) ^ ((mask[0] as number) & 0x1f);
    return ((b0 >> 2) & 1) as 0 | 1;
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

function byteAt(d: Uint8Array, i: number): number {
  if (i >= d.length) throw new RangeError('truncated');
  return d[i] as number;
}

function readU32(d: Uint8Array, i: number): number {
  return ((byteAt(d, i) << 24) | (byteAt(d, i + 1) << 16) | (byteAt(d, i + 2) << 8) | byteAt(d, i + 3)) >>> 0;
}

/** RFC 9000 §16: [value, bytes used]. */
function varint(d: Uint8Array, i: number): [number, number] {
  const first = byteAt(d, i);
  const len = 1 << (first >> 6);
  let v = first & 0x3f;
  for (let k = 1; k < len; k++) v = v * 256 + byteAt(d, i + k);
  return [v, len];
}
