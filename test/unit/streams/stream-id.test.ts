import assert from 'node:assert/strict';
import {
  canReceive,
  canSend,
  isBidi,
  isLocallyInitiated,
  isUni,
  streamDirection,
  streamId,
  streamIndex,
  streamInitiator,
  streamTypeBits,
} from '../../../src/quic/streams/stream-id.js';

describe('stream ids (RFC 9000 §2.1)', () => {
  it('decodes the four types of RFC 9000 Table 1', () => {
    const table: Array<[number, 'client' | 'server', 'bidi' | 'uni']> = [
      [0, 'client', 'bidi'],
      [1, 'server', 'bidi'],
      [2, 'client', 'uni'],
      [3, 'server', 'uni'],
    ];
    for (const [bits, who, dir] of table) {
      for (const index of [0, 1, 7, 2 ** 40, 2 ** 50]) {
        const id = index * 4 + bits;
        assert.equal(streamInitiator(id), who, `id ${id}`);
        assert.equal(streamDirection(id), dir, `id ${id}`);
        assert.equal(isBidi(id), dir === 'bidi');
        assert.equal(isUni(id), dir === 'uni');
        assert.equal(streamIndex(id), index, `index of ${id}`);
        assert.equal(streamTypeBits(who, dir), bits);
        assert.equal(streamId(index, who, dir), id);
      }
    }
  });

  it('example of RFC 9000 §19.11: server uni limit 3 allows ids 3, 7, 11', () => {
    assert.deepEqual([0, 1, 2].map((i) => streamId(i, 'server', 'uni')), [3, 7, 11]);
    assert.equal(streamIndex(15), 3);
  });

  it('tells which parts exist for each role', () => {
    // id: [client can send, client can receive, server can send, server can receive]
    const table: Array<[number, boolean, boolean, boolean, boolean]> = [
      [0, true, true, true, true],
      [1, true, true, true, true],
      [2, true, false, false, true],
      [3, false, true, true, false],
    ];
    for (const [id, cs, cr, ss, sr] of table) {
      assert.equal(canSend(id, 'client'), cs, `client send ${id}`);
      assert.equal(canReceive(id, 'client'), cr, `client recv ${id}`);
      assert.equal(canSend(id, 'server'), ss, `server send ${id}`);
      assert.equal(canReceive(id, 'server'), sr, `server recv ${id}`);
      assert.equal(isLocallyInitiated(id, 'client'), id % 2 === 0);
      assert.equal(isLocallyInitiated(id, 'server'), id % 2 === 1);
    }
  });

  it('rejects a bad index', () => {
    assert.throws(() => streamId(-1, 'client', 'bidi'), RangeError);
    assert.throws(() => streamId(1.5, 'client', 'bidi'), RangeError);
  });
});
