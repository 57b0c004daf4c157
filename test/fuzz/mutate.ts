import type { SeededRandom } from '../../src/tls/random.js';
import { VARINT_MAX, minWidth, serialize, tokenize, type Field, type FrameFields, type Tokenized } from './fields.js';

/**
 * Structure-aware mutations (the fuzzer holds the keys, so mutated frames are sealed again and
 * reach the frame layer instead of dying at the AEAD).
 *
 * A frame payload is split into frames and fields (fields.ts) and 1-4 of these operators are
 * applied, each named so a finding says what was done:
 *   varint     a varint field set to a boundary value (0, 2^6, 2^14, 2^30, 2^53, 2^60, 2^62-1, v±1, ...)
 *   wide       a varint re-encoded longer than needed (RFC 9000 §16 allows it for values, §12.4 not for types)
 *   type       a frame's type swapped for another (known or unknown), its body kept
 *   len        a Length field made to disagree with the bytes that follow
 *   resize     a byte field grown or shrunk with its Length kept consistent
 *   flip       bytes inside a byte field changed
 *   drop / dup / swap   frames removed, repeated, reordered
 *   splice     a frame of another captured packet inserted
 *   hostile    a generated frame aimed at a limit: offsets near 2^62, overlapping stream ranges,
 *              long ACK range lists, CID floods, stream counts at 2^60, far CRYPTO offsets, ...
 *   truncate / raw   the serialized payload cut short or flipped at the byte level
 */
export class Mutator {
  /** Names of the operators applied by the last call (for reproducers and statistics). */
  ops: string[] = [];

  constructor(
    readonly rng: SeededRandom,
    /** Frames to splice from (other captured packets). */
    private readonly donors: readonly Uint8Array[],
  ) {}

  /** A mutated copy of a frame payload. */
  payload(src: Uint8Array, hostileBias = 0.25, dropAcks = false): Uint8Array {
    this.ops = [];
    const t = tokenize(src);
    // A captured ACK acknowledges packets of the capture, which a live victim mostly never sent
    // (PROTOCOL_VIOLATION at once): targets that want to get further drop most of them.
    if (dropAcks && this.rng.int(4) !== 0) t.frames = t.frames.filter((f) => f.type !== 0x02n && f.type !== 0x03n);
    const n = 1 + this.rng.int(4);
    for (let i = 0; i < n; i++) this.applyOne(t, hostileBias);
    let out = serialize(t);
    const r = this.rng.int(16);
    if (r === 0 && out.length > 0) {
      this.ops.push('truncate');
      out = out.subarray(0, this.rng.int(out.length));
    } else if (r === 1 && out.length > 0) {
      this.ops.push('raw');
      out = this.flipBytes(out.slice(), 1 + this.rng.int(3));
    }
    return out;
  }

  /** A payload of generated hostile frames only (valid-looking, aimed at limits). */
  hostilePayload(count: number, valid: boolean, handshakeOnly = false): Uint8Array {
    this.ops = [];
    const t: Tokenized = { frames: [], tail: new Uint8Array(0) };
    for (let i = 0; i < count; i++) t.frames.push(...this.hostile(valid, handshakeOnly));
    return serialize(t);
  }

  /** Byte-level mutation of a whole datagram or message: flips, truncation, duplicated slices. */
  bytes(src: Uint8Array): Uint8Array {
    this.ops = [];
    let out: Uint8Array = src.slice();
    const n = 1 + this.rng.int(3);
    for (let i = 0; i < n; i++) {
      switch (this.rng.int(5)) {
        case 0:
          this.ops.push('flip');
          out = this.flipBytes(out, 1 + this.rng.int(4));
          break;
        case 1:
          if (out.length > 0) {
            this.ops.push('truncate');
            out = out.slice(0, this.rng.int(out.length));
          }
          break;
        case 2: {
          // Header bytes are where the structure is: flip within the first 64.
          this.ops.push('head');
          if (out.length > 0) out[this.rng.int(Math.min(64, out.length))] = this.rng.nextU32() & 0xff;
          break;
        }
        case 3: {
          this.ops.push('repeat');
          if (out.length > 0) {
            const a = this.rng.int(out.length);
            const b = a + this.rng.int(Math.min(64, out.length - a) + 1);
            const piece = out.slice(a, b);
            const at = this.rng.int(out.length + 1);
            const next = new Uint8Array(out.length + piece.length);
            next.set(out.subarray(0, at));
            next.set(piece, at);
            next.set(out.subarray(at), at + piece.length);
            out = next;
          }
          break;
        }
        default: {
          // A 1, 2 or 3-byte big-endian length somewhere set to a boundary.
          this.ops.push('length');
          if (out.length > 2) {
            const at = this.rng.int(out.length - 1);
            const v = [0, 1, 0xff, 0x100, 0xffff, out.length, out.length - at][this.rng.int(7)]!;
            out[at] = (v >> 8) & 0xff;
            out[at + 1] = v & 0xff;
          }
        }
      }
    }
    return out;
  }

  // ----------------------------------------------------------------------------------------------

  private applyOne(t: Tokenized, hostileBias: number): void {
    const rng = this.rng;
    if (t.frames.length === 0 || rng.next() < hostileBias) {
      this.ops.push('hostile');
      const at = rng.int(t.frames.length + 1);
      t.frames.splice(at, 0, ...this.hostile(rng.int(2) === 0));
      return;
    }
    const fi = rng.int(t.frames.length);
    const f = t.frames[fi]!;
    switch (rng.int(10)) {
      case 0:
      case 1: {
        const vf = pick(rng, f.fields.filter((x): x is Extract<Field, { t: 'v' }> => x.t === 'v'));
        if (!vf) return this.applyOne(t, 1);
        this.ops.push('varint');
        vf.v = this.boundary(vf.v);
        vf.w = widthFor(vf.v, rng);
        return;
      }
      case 2: {
        const vf = pick(rng, f.fields.filter((x): x is Extract<Field, { t: 'v' }> => x.t === 'v'));
        this.ops.push('wide');
        if (vf) vf.w = wider(vf.w, vf.v, rng);
        else f.typeWidth = wider(f.typeWidth, f.type, rng);
        return;
      }
      case 3: {
        this.ops.push('type');
        const known = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0c, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x30, 0x31,
          // multipath (draft-ietf-quic-multipath §4) and n0 NAT traversal
          0x3e, 0x3f, 0x3e75, 0x3e76, 0x3e77, 0x3e78, 0x3e79, 0x3e7a, 0x3e7b, 0x3e7c, 0x3d7f90, 0x3d7f91, 0x3d7f92, 0x3d7f93, 0x3d7f94];
        const unknown = [0x1f, 0x20, 0x2f, 0x32, 0x3d, 0x40, 0x3e74, 0x3e7d, 0x3fff, 0x4000, 0x3d7f95];
        const v = rng.int(8) === 0 ? pick(rng, unknown)! : pick(rng, known)!;
        f.type = BigInt(v);
        f.typeWidth = rng.int(8) === 0 ? wider(minWidth(f.type), f.type, rng) : minWidth(f.type);
        return;
      }
      case 4: {
        const lens = f.fields.filter((x) => x.t !== 'b' && x.role === 'len');
        const lf = pick(rng, lens);
        if (!lf) return this.applyOne(t, 1);
        this.ops.push('len');
        const d = [-1, 1, -2, 2, 1000, -1000][rng.int(6)]!;
        if (lf.t === 'v') {
          lf.v = rng.int(4) === 0 ? this.boundary(lf.v) : clampVarint(lf.v + BigInt(d));
          lf.w = widthFor(lf.v, rng);
        } else if (lf.t === 'u8') lf.v = (lf.v + d) & 0xff;
        return;
      }
      case 5: {
        const bi = f.fields.findIndex((x) => x.t === 'b');
        if (bi < 0) return this.applyOne(t, 1);
        this.ops.push('resize');
        const b = f.fields[bi] as Extract<Field, { t: 'b' }>;
        const size = [0, 1, b.b.length + 1, Math.max(0, b.b.length - 1), 8, 21, 1200, rng.int(3000)][rng.int(8)]!;
        const nb = new Uint8Array(size);
        nb.set(b.b.subarray(0, size));
        b.b = nb;
        const lf = bi > 0 ? f.fields[bi - 1] : undefined;
        if (lf && lf.t !== 'b' && lf.role === 'len') {
          if (lf.t === 'v') {
            lf.v = BigInt(size);
            lf.w = widthFor(lf.v, rng);
          } else if (lf.t === 'u8') lf.v = size & 0xff;
        }
        return;
      }
      case 6: {
        const b = pick(rng, f.fields.filter((x): x is Extract<Field, { t: 'b' }> => x.t === 'b' && x.b.length > 0));
        if (!b) return this.applyOne(t, 1);
        this.ops.push('flip');
        b.b = this.flipBytes(b.b.slice(), 1 + rng.int(3));
        return;
      }
      case 7: {
        const k = rng.int(3);
        if (k === 0) {
          this.ops.push('drop');
          t.frames.splice(fi, 1);
        } else if (k === 1) {
          this.ops.push('dup');
          const copies = rng.int(4) === 0 ? 20 : 1;
          for (let i = 0; i < copies; i++) t.frames.splice(fi, 0, cloneFrame(f));
        } else {
          this.ops.push('swap');
          const j = rng.int(t.frames.length);
          t.frames[fi] = t.frames[j]!;
          t.frames[j] = f;
        }
        return;
      }
      default: {
        const donor = pick(rng, this.donors);
        const dt = donor ? tokenize(donor) : undefined;
        const df = dt ? pick(rng, dt.frames) : undefined;
        if (!df) return this.applyOne(t, 1);
        this.ops.push('splice');
        t.frames.splice(rng.int(t.frames.length + 1), 0, df);
      }
    }
  }

  /** A boundary value related to `v`. */
  private boundary(v: bigint): bigint {
    const rng = this.rng;
    const list = [
      0n, 1n, 2n, 0x3fn, 0x40n, 0x3fffn, 0x4000n, 0x3fffffffn, 0x40000000n, 0xffffffffn,
      (1n << 53n) - 1n, 1n << 53n, (1n << 60n) - 1n, 1n << 60n, (1n << 60n) + 1n, VARINT_MAX - 1n, VARINT_MAX,
      v - 1n, v + 1n, v * 2n, v + 1000n, v + 65536n, BigInt(rng.nextU32()),
    ];
    return clampVarint(list[rng.int(list.length)]!);
  }

  /**
   * Generated frames aimed at limits. `valid`: values a well-behaved peer could send;
   * `handshakeOnly`: only frames allowed in Initial/Handshake packets (CRYPTO, PING, PADDING).
   */
  hostile(valid: boolean, handshakeOnly = false): FrameFields[] {
    const rng = this.rng;
    // Valid: streams the client may open within the limits; else any id, the server's own included.
    const sid = (): bigint => BigInt(pick(rng, valid ? [0, 4, 8, 12, 2, 6] : [0, 4, 8, 12, 16, 2, 6, 10, 1, 3, 5, 400, 4000])!);
    // Valid offsets stay inside the smallest stream window the fuzz configs use (8192).
    const off = (): bigint => (valid ? BigInt(rng.int(6000)) : this.boundary(BigInt(rng.int(20000))));
    const data = (n: number): Uint8Array => this.rng.fill(new Uint8Array(n));
    const len = (b: Uint8Array): Field => ({ t: 'v', v: BigInt(b.length), w: minWidth(BigInt(b.length)), role: 'len' });
    const vv = (x: bigint | number): Field => ({ t: 'v', v: BigInt(x), w: minWidth(BigInt(x)) });
    const fr = (type: number, fields: Field[]): FrameFields => ({ type: BigInt(type), typeWidth: 1, fields });
    // Valid frames never acknowledge (an ACK of a packet never sent is a protocol violation).
    let kind = rng.int(14);
    if (valid && kind === 3) kind = 7;
    if (handshakeOnly) kind = rng.int(4) === 0 ? 13 : 7;
    switch (kind) {
      case 0: {
        this.ops.push('h:stream');
        const b = data(rng.int(valid ? 1000 : 1200));
        return [fr(0x0e | rng.int(2), [vv(sid()), vv(off()), len(b), { t: 'b', b }])];
      }
      case 1: {
        // Overlapping ranges of one stream with different bytes, out of order.
        this.ops.push('h:overlap');
        const id = sid();
        const base = off();
        const out: FrameFields[] = [];
        for (let i = 0; i < 2 + rng.int(6); i++) {
          const b = data(1 + rng.int(300));
          out.push(fr(0x0e, [vv(id), vv(base + BigInt(rng.int(400))), len(b), { t: 'b', b }]));
        }
        return out;
      }
      case 2: {
        this.ops.push('h:stream-2^62');
        const b = data(rng.int(16));
        const o = VARINT_MAX - BigInt(rng.int(32));
        return [fr(0x0e | rng.int(2), [vv(sid()), vv(o), len(b), { t: 'b', b }])];
      }
      case 3: {
        // ACK with many ranges (RFC 9000 §19.3.1), acknowledging what was or was not sent.
        this.ops.push('h:ack');
        const n = rng.int(4) === 0 ? 200 : rng.int(12);
        const largest = valid ? BigInt(rng.int(40)) : this.boundary(BigInt(rng.int(40)));
        const fields: Field[] = [vv(largest), vv(rng.int(1000)), vv(n), vv(rng.int(3))];
        for (let i = 0; i < n; i++) fields.push(vv(rng.int(3)), vv(rng.int(3)));
        return [fr(0x02, fields)];
      }
      case 4: {
        this.ops.push('h:new-cid');
        const seq = valid ? BigInt(1 + rng.int(12)) : this.boundary(BigInt(rng.int(12)));
        const rpt = valid ? BigInt(rng.int(Number(seq) + 1)) : this.boundary(seq);
        const cid = data(valid ? 8 : rng.int(22));
        return [fr(0x18, [vv(seq), vv(rpt), { t: 'u8', v: cid.length, role: 'len' }, { t: 'b', b: cid }, { t: 'b', b: data(16) }])];
      }
      case 5:
        this.ops.push('h:retire-cid');
        return [fr(0x19, [vv(valid ? BigInt(rng.int(8)) : this.boundary(0n))])];
      case 6: {
        this.ops.push('h:max-streams');
        const v = [1n << 60n, (1n << 60n) + 1n, 0n, 100n, BigInt(rng.nextU32())][rng.int(5)]!;
        return [fr([0x12, 0x13, 0x16, 0x17][rng.int(4)]!, [vv(v)])];
      }
      case 7: {
        this.ops.push('h:crypto');
        // Valid: ahead of the handshake but within the smallest CRYPTO buffer a config allows (4096).
        const b = data(1 + rng.int(valid ? 1500 : 2000));
        const o = valid ? BigInt(1 + rng.int(2000)) : this.boundary(BigInt(rng.int(70000)));
        return [fr(0x06, [vv(o), len(b), { t: 'b', b }])];
      }
      case 8: {
        this.ops.push('h:datagram');
        const b = data(rng.int(1200));
        return rng.int(2) === 0 ? [fr(0x31, [len(b), { t: 'b', b }])] : [fr(0x30, [{ t: 'b', b }])];
      }
      case 9:
        this.ops.push('h:path-challenge');
        return [fr(0x1a, [{ t: 'b', b: data(8) }])];
      case 10: {
        this.ops.push('h:reset-stream');
        return [fr(0x04, [vv(sid()), vv(rng.int(100)), vv(off())])];
      }
      case 11:
        this.ops.push('h:stop-sending');
        return [fr(0x05, [vv(sid()), vv(rng.int(100))])];
      case 12: {
        this.ops.push('h:max-data');
        const t = [0x10, 0x11, 0x14, 0x15][rng.int(4)]!;
        const v = valid ? BigInt(rng.nextU32()) : this.boundary(0n);
        return [fr(t, t === 0x11 || t === 0x15 ? [vv(sid()), vv(v)] : [vv(v)])];
      }
      default:
        this.ops.push('h:ping-padding');
        return [fr(0x01, []), fr(0x00, [{ t: 'b', b: new Uint8Array(rng.int(40)) }])];
    }
  }

  private flipBytes(b: Uint8Array, n: number): Uint8Array {
    for (let i = 0; i < n && b.length > 0; i++) {
      const at = this.rng.int(b.length);
      b[at] = this.rng.int(2) === 0 ? b[at]! ^ (1 << this.rng.int(8)) : this.rng.nextU32() & 0xff;
    }
    return b;
  }
}

function pick<T>(rng: SeededRandom, list: readonly T[]): T | undefined {
  return list.length === 0 ? undefined : list[rng.int(list.length)];
}

function clampVarint(v: bigint): bigint {
  return v < 0n ? 0n : v > VARINT_MAX ? VARINT_MAX : v;
}

/** Mostly the shortest width; sometimes a longer one (RFC 9000 §16: not required to be minimal). */
function widthFor(v: bigint, rng: SeededRandom): 1 | 2 | 4 | 8 {
  const w = minWidth(v);
  return rng.int(8) === 0 ? wider(w, v, rng) : w;
}

function wider(w: 1 | 2 | 4 | 8, v: bigint, rng: SeededRandom): 1 | 2 | 4 | 8 {
  const opts = ([1, 2, 4, 8] as const).filter((x) => x >= Math.max(w, minWidth(v)));
  return opts[rng.int(opts.length)] ?? 8;
}

function cloneFrame(f: FrameFields): FrameFields {
  return { type: f.type, typeWidth: f.typeWidth, fields: f.fields.map((x) => ({ ...x })) };
}
