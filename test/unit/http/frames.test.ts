import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { H3Error, H3_FRAME_ERROR, H3_SETTINGS_ERROR } from '../../../src/http/errors.js';
import {
  FRAME_DATA,
  FRAME_HEADERS,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
  decodeGoaway,
  decodeSettings,
  encodeFrame,
  encodeGoaway,
  encodeSettings,
  isReservedType,
  readFrameHeader,
  readFramePayload,
} from '../../../src/http/h3-frames.js';
import { StreamReader } from '../../../src/http/stream-reader.js';

/** A ReadableStream delivering `bytes` in the given chunk sizes (the rest in one chunk). */
function streamOf(bytes: Uint8Array, chunks: number[] = []): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const n of chunks) {
    parts.push(bytes.subarray(off, off + n));
    off += n;
  }
  if (off < bytes.length) parts.push(bytes.subarray(off));
  return new ReadableStream({
    pull(c) {
      const p = parts.shift();
      if (p) c.enqueue(p);
      else c.close();
    },
  });
}

const isH3 = (code: number) => (e: unknown) => e instanceof H3Error && e.code === code;

describe('http/h3-frames (RFC 9114 §7)', () => {
  it('SETTINGS: our two settings, exact bytes, round trip', () => {
    const f = encodeSettings(new Map([[SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0], [SETTINGS_QPACK_BLOCKED_STREAMS, 0]]));
    assert.equal(toHex(f), '0404' + '0100' + '0700');
    assert.deepEqual([...decodeSettings(f.subarray(2))], [[1, 0], [7, 0]]);
  });

  it('SETTINGS: unknown ids kept (ignored later), duplicates and HTTP/2 ids refused, truncation is a frame error', () => {
    assert.deepEqual([...decodeSettings(fromHex('4140' + '05'))], [[0x140, 5]]); // 2-byte varint id 0x140
    assert.throws(() => decodeSettings(fromHex('0100' + '0101')), isH3(H3_SETTINGS_ERROR));
    for (const id of ['00', '02', '03', '04', '05']) assert.throws(() => decodeSettings(fromHex(`${id}00`)), isH3(H3_SETTINGS_ERROR), id);
    assert.throws(() => decodeSettings(fromHex('01')), isH3(H3_FRAME_ERROR));
  });

  it('GOAWAY: one varint, nothing after it', () => {
    assert.equal(toHex(encodeGoaway(8)), '070108');
    assert.equal(decodeGoaway(fromHex('4004')), 4);
    assert.throws(() => decodeGoaway(fromHex('0400')), isH3(H3_FRAME_ERROR));
    assert.throws(() => decodeGoaway(new Uint8Array(0)), isH3(H3_FRAME_ERROR));
  });

  it('reserved types are 0x1f * N + 0x21', () => {
    assert.ok(isReservedType(0x21) && isReservedType(0x40) && isReservedType(0x1f * 1000 + 0x21));
    assert.ok(!isReservedType(0x00) && !isReservedType(0x22) && !isReservedType(0x07));
  });

  it('reads frames across any chunking; a clean end between frames is null', async () => {
    const bytes = new Uint8Array([...encodeFrame(FRAME_HEADERS, fromHex('0000d1')), ...encodeFrame(FRAME_DATA, new Uint8Array(300).fill(7))]);
    for (const chunks of [[], [1], [1, 1, 1, 1, 1], [3, 2, 1], [bytes.length - 1]]) {
      const r = new StreamReader(streamOf(bytes, chunks));
      const h1 = await readFrameHeader(r);
      assert.deepEqual(h1, { type: FRAME_HEADERS, length: 3 });
      assert.equal(toHex(await readFramePayload(r, 3)), '0000d1');
      const h2 = await readFrameHeader(r);
      assert.deepEqual(h2, { type: FRAME_DATA, length: 300 });
      assert.deepEqual(await readFramePayload(r, 300), new Uint8Array(300).fill(7));
      assert.equal(await readFrameHeader(r), null);
    }
  });

  it('every truncated prefix of a frame is H3_FRAME_ERROR (or a clean end at 0 bytes)', async () => {
    const frame = encodeFrame(0x4041, new Uint8Array(70).fill(1)); // 2-byte type, 2-byte length
    for (let n = 0; n < frame.length; n++) {
      const r = new StreamReader(streamOf(frame.subarray(0, n)));
      const run = async (): Promise<unknown> => {
        const h = await readFrameHeader(r);
        if (h === null) return null;
        return readFramePayload(r, h.length);
      };
      if (n === 0) assert.equal(await run(), null);
      else await assert.rejects(run(), isH3(H3_FRAME_ERROR), `prefix ${n}`);
    }
  });
});
