import assert from 'node:assert/strict';
import { RouteTable } from '../../../src/quic/endpoint/routes.js';

/** The endpoint's routing table alone (the endpoint tests exercise it through datagrams). */
describe('RouteTable (src/quic/endpoint/routes.ts)', () => {
  const cid = (...b: number[]): Uint8Array => new Uint8Array(b);

  it('a connection id routes to its first connection; a collision changes nothing, and removing it for another leaves it', () => {
    const t = new RouteTable<string>();
    assert.equal(t.add(cid(1, 2, 3, 4), 'a'), true);
    assert.equal(t.add(cid(1, 2, 3, 4), 'b'), false, 'collision');
    assert.equal(t.get(cid(1, 2, 3, 4)), 'a');
    t.remove(cid(1, 2, 3, 4), 'b');
    assert.equal(t.get(cid(1, 2, 3, 4)), 'a', 'not b\'s to remove');
    t.remove(cid(1, 2, 3, 4), 'a');
    assert.equal(t.get(cid(1, 2, 3, 4)), undefined);
    assert.equal(t.size, 0);
  });

  it('the short-header key of the last DCID is reused, and a new DCID gets its own (a memo, never a stale route)', () => {
    const t = new RouteTable<string>();
    t.add(cid(9, 9, 9, 9), 'x');
    t.add(cid(7, 7, 7, 7), 'y');
    const d1 = cid(0x40, 9, 9, 9, 9, 0xaa);
    const d2 = cid(0x40, 7, 7, 7, 7, 0xbb);
    const k1 = t.shortKey(d1, 4);
    assert.equal(t.shortKey(d1, 4), k1);
    assert.equal(t.get(k1), 'x');
    assert.equal(t.get(t.shortKey(d2, 4)), 'y');
    // The datagram's bytes are not kept: overwriting the first datagram does not change its key.
    d1.set([7, 7, 7, 7], 1);
    assert.equal(t.get(t.shortKey(d1, 4)), 'y');
    t.remove(cid(7, 7, 7, 7), 'y');
    assert.equal(t.get(t.shortKey(d1, 4)), undefined, 'a retired CID no longer routes through the memo');
  });

  it('Initial DCIDs and addresses: added, found, removed only for their own connection, emptied sets dropped', () => {
    const t = new RouteTable<string>();
    const k = t.addInitial(cid(5, 5, 5, 5, 5, 5, 5, 5), 's');
    assert.equal(t.initial(k), 's');
    t.removeInitial(k, 'other');
    assert.equal(t.initial(k), 's');
    t.removeInitial(k, 's');
    assert.equal(t.initial(k), undefined);
    t.addAddress('127.0.0.1:1', 'a');
    t.addAddress('127.0.0.1:1', 'b');
    assert.deepEqual([...(t.at('127.0.0.1:1') ?? [])], ['a', 'b']);
    t.removeAddress('127.0.0.1:1', 'a');
    t.removeAddress('127.0.0.1:1', 'b');
    assert.equal(t.at('127.0.0.1:1'), undefined);
    t.removeAddress('127.0.0.1:2', 'a'); // nothing there: no error
  });
});
