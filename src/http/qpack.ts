/**
 * QPACK (RFC 9204) with a dynamic table of capacity zero: field sections are encoded with the
 * static table and literals only, and decoded likewise. We announce SETTINGS_QPACK_MAX_TABLE_CAPACITY
 * = 0 and SETTINGS_QPACK_BLOCKED_STREAMS = 0, so a peer may never reference its dynamic table: any
 * such reference, a Required Insert Count other than 0, a bad integer, string or Huffman code is a
 * QPACK_DECOMPRESSION_FAILED connection error (RFC 9204 §2.2.3, §4.5).
 */
import { utf8, fromUtf8 } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { H3Error, QPACK_DECOMPRESSION_FAILED } from './errors.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './huffman.js';
import { QPACK_STATIC_TABLE } from './qpack-static-table.js';

/** One field line: a lowercase name and its value. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** The largest prefixed integer we accept (RFC 9204 §4.1.1 leaves it to the implementation). */
const MAX_INTEGER = 2 ** 32 - 1;

/** `name value` -> static index, and `name` -> first static index with that name. */
let exactIndex: Map<string, number> | undefined;
let nameIndex: Map<string, number> | undefined;

function indexes(): { exact: Map<string, number>; names: Map<string, number> } {
  if (!exactIndex || !nameIndex) {
    exactIndex = new Map();
    nameIndex = new Map();
    QPACK_STATIC_TABLE.forEach(([n, v], i) => {
      exactIndex!.set(`${n}\0${v}`, i);
      if (!nameIndex!.has(n)) nameIndex!.set(n, i);
    });
  }
  return { exact: exactIndex, names: nameIndex };
}

// ------------------------------------------------------------------------------------------------
// Encoding
// ------------------------------------------------------------------------------------------------

/**
 * Encodes a field section (RFC 9204 §4.5): the prefix with Required Insert Count 0 and Base 0,
 * then each field as a static Indexed Field Line when the static table has the exact pair, a
 * Literal Field Line with Name Reference when it has the name, else a Literal Field Line with
 * Literal Name. Strings are Huffman-coded when that is shorter.
 */
export function encodeFieldSection(fields: readonly HeaderField[]): Uint8Array {
  const { exact, names } = indexes();
  const out: number[] = [0x00, 0x00]; // §4.5.1: Required Insert Count 0, Sign 0, Delta Base 0
  for (const { name, value } of fields) {
    const both = exact.get(`${name}\0${value}`);
    if (both !== undefined) {
      writeInteger(out, 0xc0, 6, both); // §4.5.2: 1 T=1 index
      continue;
    }
    const n = names.get(name);
    if (n !== undefined) {
      writeInteger(out, 0x50, 4, n); // §4.5.4: 01 N=0 T=1 index
    } else {
      writeString(out, 0x20, 3, utf8(name)); // §4.5.6: 001 N=0 H name
    }
    writeString(out, 0x00, 7, utf8(value));
  }
  return Uint8Array.from(out);
}

/** An integer with an N-bit prefix (RFC 7541 §5.1), the prefix's other bits set from `first`. */
function writeInteger(out: number[], first: number, prefixBits: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.push(first | v);
    return;
  }
  out.push(first | max);
  v -= max;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A string literal: H flag just above an N-bit length prefix, then the (maybe Huffman) bytes. */
function writeString(out: number[], first: number, prefixBits: number, raw: Uint8Array): void {
  const huff = huffmanEncodedLength(raw) < raw.length;
  const bytes = huff ? huffmanEncode(raw) : raw;
  writeInteger(out, first | (huff ? 1 << prefixBits : 0), prefixBits, bytes.length);
  for (const b of bytes) out.push(b);
}

// ------------------------------------------------------------------------------------------------
// Decoding
// ------------------------------------------------------------------------------------------------

/**
 * Decodes a field section (the payload of a HEADERS frame). Throws an H3Error with
 * QPACK_DECOMPRESSION_FAILED on anything malformed or on a dynamic table reference.
 */
export function decodeFieldSection(block: Uint8Array): HeaderField[] {
  try {
    return decode(block);
  } catch (e) {
    if (e instanceof H3Error) throw e;
    if (e instanceof DecodeError) throw new H3Error(QPACK_DECOMPRESSION_FAILED, e.message);
    throw e;
  }
}

function fail(why: string): never {
  throw new H3Error(QPACK_DECOMPRESSION_FAILED, why);
}

function decode(block: Uint8Array): HeaderField[] {
  const c = { buf: block, pos: 0 };
  // §4.5.1.1: with a table capacity of 0, the only valid Required Insert Count is 0.
  const ric = readInteger(c, 8);
  if (ric !== 0) fail(`Required Insert Count ${ric}: our dynamic table has capacity 0 (RFC 9204 §4.5.1.1)`);
  readInteger(c, 7); // Sign + Delta Base: irrelevant when Required Insert Count is 0 (§4.5.1.2)
  const fields: HeaderField[] = [];
  while (c.pos < block.length) {
    const b = block[c.pos] as number;
    if (b & 0x80) {
      // §4.5.2 Indexed Field Line: 1 T index(6)
      if (!(b & 0x40)) fail('indexed field line refers to the dynamic table');
      const [name, value] = staticEntry(readInteger(c, 6));
      fields.push({ name, value });
    } else if (b & 0x40) {
      // §4.5.4 Literal Field Line with Name Reference: 01 N T index(4), value
      if (!(b & 0x10)) fail('literal field line refers to a dynamic table name');
      const [name] = staticEntry(readInteger(c, 4));
      fields.push({ name, value: readString(c, 7) });
    } else if (b & 0x20) {
      // §4.5.6 Literal Field Line with Literal Name: 001 N H len(3) name, value
      const name = readString(c, 3);
      fields.push({ name, value: readString(c, 7) });
    } else {
      // §4.5.3 Indexed Field Line with Post-Base Index, §4.5.5 Literal with Post-Base Name Reference
      fail('post-base reference to the dynamic table');
    }
  }
  return fields;
}

function staticEntry(i: number): readonly [string, string] {
  const e = QPACK_STATIC_TABLE[i];
  if (!e) fail(`static table index ${i} out of range (RFC 9204 Appendix A has 99 entries)`);
  return e;
}

interface Cursor {
  buf: Uint8Array;
  pos: number;
}

/** An integer with an N-bit prefix (RFC 7541 §5.1); the bits above the prefix are the caller's. */
function readInteger(c: Cursor, prefixBits: number): number {
  if (c.pos >= c.buf.length) fail('field section truncated');
  const max = (1 << prefixBits) - 1;
  let v = (c.buf[c.pos++] as number) & max;
  if (v < max) return v;
  let shift = 1;
  for (;;) {
    if (c.pos >= c.buf.length) fail('field section truncated inside an integer');
    const b = c.buf[c.pos++] as number;
    v += (b & 0x7f) * shift;
    if (v > MAX_INTEGER) fail('integer too large');
    if (!(b & 0x80)) return v;
    shift *= 128;
  }
}

/** A string literal whose H flag sits just above an N-bit length prefix. */
function readString(c: Cursor, prefixBits: number): string {
  if (c.pos >= c.buf.length) fail('field section truncated');
  const huff = ((c.buf[c.pos] as number) >> prefixBits) & 1;
  const len = readInteger(c, prefixBits);
  if (c.pos + len > c.buf.length) fail('field section truncated inside a string');
  const raw = c.buf.subarray(c.pos, c.pos + len);
  c.pos += len;
  return fromUtf8(huff ? huffmanDecode(raw) : raw);
}
