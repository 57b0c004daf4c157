import assert from 'node:assert/strict';
import { x25519SharedSecret, type X25519KeyPair } from '../../../src/tls/crypto.js';
import { Level } from '../../../src/tls/engine.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { X25519KeyPool } from '../../../src/tls/x25519-pool.js';
import { clientConfig, parseHello, runHandshake, serverConfig } from './helpers.js';

/** A pool whose deferred work waits in a list until the test runs it. */
function manualPool(seed = 7): { pool: X25519KeyPool; deferred: Array<() => void> } {
  const deferred: Array<() => void> = [];
  return { pool: new X25519KeyPool(new SeededRandom(seed), (work) => deferred.push(work)), deferred };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('X25519KeyPool: key shares made ahead', () => {
  it('take makes a pair at once when there is no spare and defers the making of one spare', () => {
    const { pool, deferred } = manualPool();
    const a = pool.take();
    assert.equal(deferred.length, 1);
    const b = pool.take();
    assert.equal(deferred.length, 1, 'one refill at a time');
    assert.notEqual(hex(a.publicKey), hex(b.publicKey));
    deferred.shift()!();
    const spare = (pool as unknown as { spare: X25519KeyPair | undefined }).spare;
    assert.ok(spare, 'the deferred work made a spare');
    const c = pool.take();
    assert.equal(c, spare, 'the spare is handed out next');
    assert.equal(deferred.length, 1, 'and the next one is deferred');
    assert.equal((pool as unknown as { spare: X25519KeyPair | undefined }).spare, undefined, 'a pair is handed out once');
  });

  it('every pair is fresh and works: no public value repeats over many takes, and agreement is symmetric', () => {
    const { pool, deferred } = manualPool(9);
    const seen = new Set<string>();
    const pairs: X25519KeyPair[] = [];
    for (let i = 0; i < 40; i++) {
      const p = pool.take();
      pairs.push(p);
      seen.add(hex(p.publicKey));
      if (i % 3 === 0) for (const w of deferred.splice(0)) w();
    }
    assert.equal(seen.size, 40);
    const [x, y] = [pairs[3]!, pairs[17]!];
    assert.equal(hex(x25519SharedSecret(x, y.publicKey)), hex(x25519SharedSecret(y, x.publicKey)));
  });

  it('prime makes a spare before the first take, once; the first take hands it out', () => {
    const { pool, deferred } = manualPool(15);
    pool.prime();
    pool.prime();
    assert.equal(deferred.length, 1, 'one making queued');
    deferred.shift()!();
    const spare = (pool as unknown as { spare: X25519KeyPair | undefined }).spare;
    assert.ok(spare);
    pool.prime();
    assert.equal(deferred.length, 0, 'nothing more while a spare waits');
    assert.equal(pool.take(), spare);
  });

  it('stop drops the spare and makes no more ahead; take still works', () => {
    const { pool, deferred } = manualPool(11);
    pool.take();
    deferred.shift()!();
    const spare = (pool as unknown as { spare: X25519KeyPair | undefined }).spare!;
    pool.take(); // hands out the spare, defers a refill
    assert.equal(deferred.length, 1);
    pool.stop();
    deferred.shift()!(); // a refill queued before stop makes nothing
    assert.equal((pool as unknown as { spare: X25519KeyPair | undefined }).spare, undefined);
    const after = pool.take();
    assert.notEqual(hex(after.publicKey), hex(spare.publicKey));
    assert.equal(deferred.length, 0, 'nothing deferred after stop');
  });

  it('a TLS client and server take their key shares from the pool: the ClientHello and ServerHello carry them', () => {
    const taken: X25519KeyPair[] = [];
    const { pool } = manualPool(13);
    const source = {
      take: (): X25519KeyPair => {
        const k = pool.take();
        taken.push(k);
        return k;
      },
    };
    const r = runHandshake(clientConfig({ x25519Keys: source }), serverConfig({ x25519Keys: source }));
    assert.equal(r.error, undefined);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
    assert.equal(taken.length, 2, 'one share per side');
    const hello = r.clientEvents.find((e) => e.kind === 'writeData' && e.level === Level.Initial);
    assert.ok(hello && hello.kind === 'writeData');
    const keyShare = parseHello(hello.data).exts.find(([t]) => t === 51)![1];
    // client_shares<2> { group 0x001d, key_exchange<2> 32 bytes }
    assert.equal(hex(keyShare.subarray(6, 38)), hex(taken[0]!.publicKey));
    const serverHello = r.serverEvents.find((e) => e.kind === 'writeData' && e.level === Level.Initial);
    assert.ok(serverHello && serverHello.kind === 'writeData');
    assert.ok(hex(serverHello.data).includes(hex(taken[1]!.publicKey)), "the ServerHello's key_share is the pool's second pair");
  });
});
