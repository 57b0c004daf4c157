/**
 * The HPACK Huffman code (RFC 7541 §5.2 and Appendix B), used by QPACK string literals
 * (RFC 9204 §4.1.2). Decoding walks a binary tree built once from the code table; encoding
 * concatenates codes and pads with the most significant bits of EOS (all ones).
 */
import { DecodeError } from '../codec/errors.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

const EOS = 256;
const EOS_CODE = 0x3fffffff;
const EOS_LENGTH = 30;

/**
 * The decoding tree: node i's children are tree[2i] (bit 0) and tree[2i+1] (bit 1); a child >= 0 is
 * a node, a child < 0 is the leaf of symbol -child-1, and 0 (never a child: the root is node 0) is
 * a missing branch. 256 symbols + EOS need 256 inner nodes.
 */
let tree: Int32Array | undefined;

function buildTree(): Int32Array {
  const t = new Int32Array(2 * 512);
  let nodes = 1;
  const add = (code: number, len: number, sym: number): void => {
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = 2 * node + bit;
      if (i === 0) {
        t[slot] = -sym - 1;
      } else {
        if (t[slot] === 0) t[slot] = nodes++;
        node = t[slot] as number;
      }
    }
  };
  for (let s = 0; s < 256; s++) add(HUFFMAN_CODES[s] as number, HUFFMAN_LENGTHS[s] as number, s);
  add(EOS_CODE, EOS_LENGTH, EOS);
  return t;
}

/**
 * Decodes a Huffman-coded string. Errors as RFC 7541 §5.2 requires: the EOS symbol inside the
 * string, padding longer than 7 bits, or padding that is not the most significant bits of EOS.
 */
export function huffmanDecode(data: Uint8Array): Uint8Array {
  tree ??= buildTree();
  const t = tree;
  const out = new Uint8Array(Math.ceil((data.length * 8) / 5));
  let n = 0;
  let node = 0;
  let depth = 0; // bits since the last symbol
  let allOnes = true; // those bits are all ones
  for (const byte of data) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      const next = t[2 * node + bit] as number;
      depth++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new DecodeError('Huffman string contains EOS (RFC 7541 §5.2)');
        out[n++] = sym;
        node = 0;
        depth = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (depth > 7) throw new DecodeError('Huffman padding longer than 7 bits (RFC 7541 §5.2)');
  if (!allOnes) throw new DecodeError('Huffman padding is not the prefix of EOS (RFC 7541 §5.2)');
  return out.slice(0, n);
}

/** The length in bytes of `data` Huffman-coded. */
export function huffmanEncodedLength(data: Uint8Array): number {
  let bits = 0;
  for (const b of data) bits += HUFFMAN_LENGTHS[b] as number;
  return Math.ceil(bits / 8);
}

/** Huffman-codes `data`, padded with ones to a whole byte (RFC 7541 §5.2). */
export function huffmanEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(data));
  let acc = 0; // pending bits, at most 7 + 30 = 37: kept below 2^53 as a plain number
  let bits = 0;
  let n = 0;
  for (const b of data) {
    const len = HUFFMAN_LENGTHS[b] as number;
    acc = acc * 2 ** len + (HUFFMAN_CODES[b] as number);
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const top = Math.floor(acc / 2 ** bits);
      out[n++] = top;
      acc -= top * 2 ** bits;
    }
  }
  if (bits > 0) out[n++] = (acc * 2 ** (8 - bits)) | (0xff >> bits);
  return out;
}
