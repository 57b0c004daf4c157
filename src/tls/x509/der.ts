import { DecodeError } from '../../codec/errors.js';

/**
 * The little of DER (ITU-T X.690 §8, §10) that reading a certificate's validity and extensions
 * needs: a TLV walker over definite lengths, OBJECT IDENTIFIERs, BOOLEAN, INTEGER (small),
 * BIT STRING and the two time types. Everything malformed throws `DecodeError`; nothing here
 * allocates beyond the values returned (the TLV contents are views of the input).
 */

/** One TLV: its tag byte (single-byte tags only: all certificate fields use them), and content. */
export interface Tlv {
  readonly tag: number;
  readonly content: Uint8Array;
  /** The whole TLV's bytes (header and content). */
  readonly raw: Uint8Array;
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

/** A cursor over consecutive TLVs of one constructed value's content. */
export class DerReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The next TLV's tag without consuming it (undefined at the end). */
  peekTag(): number | undefined {
    return this.atEnd ? undefined : this.buf[this.pos];
  }

  /** The next TLV; with `tag`, a DecodeError unless it has that tag. */
  next(tag?: number): Tlv {
    const b = this.buf;
    const start = this.pos;
    if (start + 2 > b.length) throw new DecodeError('DER: truncated header');
    const t = b[start]!;
    if ((t & 0x1f) === 0x1f) throw new DecodeError('DER: multi-byte tags are not used in certificates');
    let len = b[start + 1]!;
    let at = start + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      // X.690 §10.1: definite lengths in the fewest bytes; 4 bytes cover any certificate.
      if (n === 0 || n > 4) throw new DecodeError('DER: indefinite or oversized length');
      if (at + n > b.length) throw new DecodeError('DER: truncated length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[at + i]!;
      if (len < 0x80 || (n > 1 && b[at] === 0)) throw new DecodeError('DER: non-minimal length');
      at += n;
    }
    if (at + len > b.length) throw new DecodeError('DER: content runs past its container');
    this.pos = at + len;
    if (tag !== undefined && t !== tag) throw new DecodeError(`DER: expected tag 0x${tag.toString(16)}, got 0x${t.toString(16)}`);
    return { tag: t, content: b.subarray(at, at + len), raw: b.subarray(start, at + len) };
  }

  /** The next TLV when it has `tag`, else undefined (nothing consumed). */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.next() : undefined;
  }

  /** A reader over the next TLV's content (a constructed value). */
  enter(tag: number): DerReader {
    return new DerReader(this.next(tag).content);
  }

  end(what: string): void {
    if (!this.atEnd) throw new DecodeError(`DER: trailing bytes in ${what}`);
  }
}

/** A DER reader over the content of the one TLV that must fill `der` entirely. */
export function derRoot(der: Uint8Array, tag: number, what: string): DerReader {
  const r = new DerReader(der);
  const inner = r.enter(tag);
  r.end(what);
  return inner;
}

/** OBJECT IDENTIFIER content as dotted text (X.690 §8.19). */
export function readOid(content: Uint8Array): string {
  if (content.length === 0) throw new DecodeError('DER: empty OID');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const c = content[i]!;
    if (v === 0 && c === 0x80) throw new DecodeError('DER: non-minimal OID arc');
    v = v * 128 + (c & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DecodeError('DER: OID arc too large');
    if ((c & 0x80) === 0) {
      parts.push(v);
      v = 0;
    } else if (i === content.length - 1) {
      throw new DecodeError('DER: truncated OID');
    }
  }
  const first = parts[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

/** BOOLEAN content (X.690 §11.1: DER TRUE is 0xff). */
export function readBoolean(content: Uint8Array): boolean {
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff)) throw new DecodeError('DER: bad BOOLEAN');
  return content[0] === 0xff;
}

/** A small non-negative INTEGER (a path length): up to 2^31. */
export function readSmallUint(content: Uint8Array): number {
  if (content.length === 0 || content.length > 5 || (content[0]! & 0x80) !== 0) throw new DecodeError('DER: bad small INTEGER');
  let v = 0;
  for (const c of content) v = v * 256 + c;
  return v;
}

/**
 * BIT STRING content as the bits' values, bit 0 first (the most significant bit of the first
 * byte, X.690 §8.6): `bits[i]` is named bit i.
 */
export function readBits(content: Uint8Array): boolean[] {
  if (content.length === 0) throw new DecodeError('DER: empty BIT STRING');
  const unused = content[0]!;
  if (unused > 7 || (content.length === 1 && unused !== 0)) throw new DecodeError('DER: bad BIT STRING');
  const n = (content.length - 1) * 8 - unused;
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push((content[1 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0);
  return out;
}

/**
 * UTCTime (YYMMDDHHMMSSZ; YY >= 50 is 19YY, RFC 5280 §4.1.2.5.1) or GeneralizedTime
 * (YYYYMMDDHHMMSSZ, §4.1.2.5.2) as milliseconds since the epoch.
 */
export function readTime(tlv: Tlv): number {
  const s = String.fromCharCode(...tlv.content);
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === Tag.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw new DecodeError(`DER: bad UTCTime "${s}"`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === Tag.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw new DecodeError(`DER: bad GeneralizedTime "${s}"`);
    year = Number(m[1]);
  } else {
    throw new DecodeError(`DER: tag 0x${tlv.tag.toString(16)} is not a time`);
  }
  const [mo, d, h, mi, se] = [2, 3, 4, 5, 6].map((i) => Number(m![i]));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || se! > 60) throw new DecodeError(`DER: bad time "${s}"`);
  return Date.UTC(year, mo! - 1, d!, h!, mi!, se!);
}
