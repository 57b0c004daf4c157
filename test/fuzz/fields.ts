import { Reader } from '../../src/codec/reader.js';
import { Writer } from '../../src/codec/writer.js';

/**
 * A frame as a list of wire fields, the structure the mutator works on.
 *
 * `decodeFrames` gives typed frames, but a typed frame cannot carry what the fuzzer needs to
 * write: a varint above 2^53, a varint in a longer encoding than needed, a Length field that
 * disagrees with the bytes after it, a type whose body belongs to another type. Here a frame is
 * its type (a varint) and its fields in wire order, each kept exactly (value as a bigint and the
 * encoding width it had), so any field can be changed alone and the frame written back byte for
 * byte. The layout of each type follows RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-multipath §4
 * and iroh's n0 NAT traversal frames.
 */
export type Field =
  /** A varint: value and encoded width (1, 2, 4 or 8 bytes; RFC 9000 §16). */
  | { t: 'v'; v: bigint; w: 1 | 2 | 4 | 8; role?: 'len' }
  /** One raw byte (NEW_CONNECTION_ID's Length). */
  | { t: 'u8'; v: number; role?: 'len' }
  /** Raw bytes (data, connection id, token, reason, ...). */
  | { t: 'b'; b: Uint8Array };

export interface FrameFields {
  type: bigint;
  typeWidth: 1 | 2 | 4 | 8;
  fields: Field[];
}

/** A payload split into frames; `tail` keeps what could not be split (an unknown type, a truncation). */
export interface Tokenized {
  frames: FrameFields[];
  tail: Uint8Array;
}

export const VARINT_MAX = (1n << 62n) - 1n;

/** Width of the shortest encoding of `v`. */
export function minWidth(v: bigint): 1 | 2 | 4 | 8 {
  if (v < 0x40n) return 1;
  if (v < 0x4000n) return 2;
  if (v < 0x40000000n) return 4;
  return 8;
}

/** Splits a payload into fields. Never throws: what does not tokenize ends up in `tail`. */
export function tokenize(payload: Uint8Array): Tokenized {
  const r = new Reader(payload);
  const frames: FrameFields[] = [];
  while (!r.atEnd) {
    const start = r.pos;
    try {
      frames.push(readFrame(r));
    } catch {
      return { frames, tail: payload.slice(start) };
    }
  }
  return { frames, tail: new Uint8Array(0) };
}

/** Writes frames (and the tail) back to bytes. */
export function serialize(t: Tokenized): Uint8Array {
  const w = Writer.growable(256);
  for (const f of t.frames) writeFrameFields(w, f);
  w.bytesOf(t.tail);
  return w.buf.slice(0, w.pos);
}

export function writeFrameFields(w: Writer, f: FrameFields): void {
  writeVarintWidth(w, f.type, f.typeWidth);
  for (const x of f.fields) {
    if (x.t === 'v') writeVarintWidth(w, x.v, x.w);
    else if (x.t === 'u8') w.u8(x.v & 0xff);
    else w.bytesOf(x.b);
  }
}

/** A varint of `v` in `width` bytes (the value is clamped to what the width can hold). */
export function writeVarintWidth(w: Writer, v: bigint, width: 1 | 2 | 4 | 8): void {
  const bits = BigInt(width * 8 - 2);
  const max = (1n << bits) - 1n;
  let x = v < 0n ? 0n : v > max ? max : v;
  const prefix = BigInt({ 1: 0, 2: 1, 4: 2, 8: 3 }[width]) << BigInt(width * 8 - 2);
  x |= prefix;
  for (let i = width - 1; i >= 0; i--) w.u8(Number((x >> BigInt(i * 8)) & 0xffn));
}

const v = (r: Reader, role?: 'len'): Field => {
  const start = r.pos;
  const value = r.varintBig();
  const width = (r.pos - start) as 1 | 2 | 4 | 8;
  return role ? { t: 'v', v: value, w: width, role } : { t: 'v', v: value, w: width };
};

/** A Length varint followed by that many bytes. */
function lenBytes(r: Reader, out: Field[]): void {
  const len = v(r, 'len');
  out.push(len);
  if (len.t !== 'v' || len.v > BigInt(r.remaining)) throw new Error('length past the end');
  out.push({ t: 'b', b: r.bytes(Number(len.v)).slice() });
}

function readFrame(r: Reader): FrameFields {
  const start = r.pos;
  const type = r.varintBig();
  const typeWidth = (r.pos - start) as 1 | 2 | 4 | 8;
  const fields: Field[] = [];
  const t = Number(type);
  if (type > 0x3fn) return readExtensionFrame(r, type, typeWidth);
  switch (t) {
    case 0x00: {
      // A PADDING run is one frame: the type byte and the zero bytes after it.
      let n = 0;
      while (!r.atEnd && r.buf[r.pos] === 0) {
        r.pos++;
        n++;
      }
      if (n > 0) fields.push({ t: 'b', b: new Uint8Array(n) });
      break;
    }
    case 0x01:
    case 0x1e:
      break;
    case 0x3e:
    case 0x3f:
    case 0x02:
    case 0x03: {
      // PATH_ACK (draft-ietf-quic-multipath §4.1): a Path Identifier, then an ACK's fields.
      if (t >= 0x3e) fields.push(v(r));
      fields.push(v(r), v(r));
      const count = v(r);
      fields.push(count, v(r));
      if (count.t === 'v' && count.v > BigInt(r.remaining)) throw new Error('range count past the end');
      for (let i = 0n; count.t === 'v' && i < count.v; i++) fields.push(v(r), v(r));
      if (t === 0x03 || t === 0x3f) fields.push(v(r), v(r), v(r));
      break;
    }
    case 0x04:
      fields.push(v(r), v(r), v(r));
      break;
    case 0x05:
    case 0x11:
    case 0x15:
      fields.push(v(r), v(r));
      break;
    case 0x06:
      fields.push(v(r));
      lenBytes(r, fields);
      break;
    case 0x07:
    case 0x31:
      lenBytes(r, fields);
      break;
    case 0x10:
    case 0x12:
    case 0x13:
    case 0x14:
    case 0x16:
    case 0x17:
    case 0x19:
      fields.push(v(r));
      break;
    case 0x18:
      newConnectionId(r, fields);
      break;
    case 0x1a:
    case 0x1b:
      fields.push({ t: 'b', b: r.bytes(8).slice() });
      break;
    case 0x1c:
      fields.push(v(r), v(r));
      lenBytes(r, fields);
      break;
    case 0x1d:
      fields.push(v(r));
      lenBytes(r, fields);
      break;
    case 0x30:
      fields.push({ t: 'b', b: r.rest().slice() });
      break;
    default:
      if (t >= 0x08 && t <= 0x0f) {
        fields.push(v(r));
        if (t & 0x04) fields.push(v(r));
        if (t & 0x02) lenBytes(r, fields);
        else fields.push({ t: 'b', b: r.rest().slice() });
        break;
      }
      throw new Error('unknown type');
  }
  return { type, typeWidth, fields };
}

/** NEW_CONNECTION_ID's fields after its type (and PATH_NEW_CONNECTION_ID's after the path id). */
function newConnectionId(r: Reader, fields: Field[]): void {
  fields.push(v(r), v(r));
  const n = r.u8();
  fields.push({ t: 'u8', v: n, role: 'len' });
  fields.push({ t: 'b', b: r.bytes(n).slice() }, { t: 'b', b: r.bytes(16).slice() });
}

/** The longer types: multipath (draft-ietf-quic-multipath §4), n0 NAT traversal and QUIC Address Discovery. */
function readExtensionFrame(r: Reader, type: bigint, typeWidth: 1 | 2 | 4 | 8): FrameFields {
  const fields: Field[] = [];
  switch (type) {
    case 0x3e75n: // PATH_ABANDON: path id, error code
    case 0x3e76n: // PATH_STATUS_BACKUP: path id, sequence
    case 0x3e77n:
    case 0x3e79n: // PATH_RETIRE_CONNECTION_ID: path id, sequence
    case 0x3e7cn: // PATH_CIDS_BLOCKED: path id, next sequence
      fields.push(v(r), v(r));
      break;
    case 0x3e78n:
      fields.push(v(r));
      newConnectionId(r, fields);
      break;
    case 0x3e7an: // MAX_PATH_ID
    case 0x3e7bn: // PATHS_BLOCKED
    case 0x3d7f94n: // REMOVE_ADDRESS
      fields.push(v(r));
      break;
    case 0x3d7f90n:
    case 0x3d7f91n:
    case 0x3d7f92n:
    case 0x3d7f93n:
    case 0x9f81a6n:
    case 0x9f81a7n: {
      // ADD_ADDRESS / REACH_OUT / OBSERVED_ADDRESS (QUIC Address Discovery): sequence or round, the
      // IP address (IPv6 for odd types), the port.
      fields.push(v(r));
      fields.push({ t: 'b', b: r.bytes((type & 1n) === 1n ? 16 : 4).slice() }, { t: 'b', b: r.bytes(2).slice() });
      break;
    }
    default:
      throw new Error('unknown type');
  }
  return { type, typeWidth, fields };
}
