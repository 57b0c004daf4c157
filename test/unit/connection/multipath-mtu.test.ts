import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';

/** Path MTU discovery on path ids ≥ 1 (mtu-probes.ts): each path id searches its own MTU. */
function pair(seed: number, mtu: number): Pair {
  const p = new Pair({
    seed: testSeed(seed),
    link: { delayMs: 10, mtu },
    clientTransport: { multipath: true, mtuUpperBound: 1452 },
    serverTransport: { multipath: true, mtuUpperBound: 1452 },
  });
  p.handshake();
  p.runFor(200);
  return p;
}

describe('multipath: path MTU discovery on every path id (RFC 9000 §14.4)', () => {
  it('a path id opened after the handshake grows from 1200 to the path MTU, as path 0 did, both ends', () => {
    const p = pair(41, 1500);
    assert.equal(p.client.internals.paths.recovery.mtu.current, 1452, 'path 0 found it');
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:444'), { kind: 'opened', pathId: 1 });
    p.runFor(3_000);
    const client = p.client.internals.multipath.pathAt(1)!;
    const server = p.server!.internals.multipath.pathAt(1)!;
    assert.equal(client.path.validated, true);
    assert.equal(client.recovery.mtu.current, 1452, 'client side of path 1');
    assert.equal(server.recovery.mtu.current, 1452, 'server side of path 1');
  });

  it('a link that carries less stops the search below it: nothing larger than the link is ever settled on', () => {
    const p = pair(42, 1350);
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:444'), { kind: 'opened', pathId: 1 });
    p.runFor(5_000);
    const mtu = p.client.internals.multipath.pathAt(1)!.recovery.mtu.current;
    assert.ok(mtu > 1200 && mtu <= 1350, `path 1 MTU ${mtu}`);
    // Data on path 1 flows in packets that fit: a transfer completes (only probes were too large).
    assert.ok(p.client.internals.multipath.pathAt(1)!.path.validated);
    const id = p.client.openStream('uni')!;
    const data = new Uint8Array(200_000).fill(7);
    let written = 0;
    let got = 0;
    p.drive(() => {
      if (written < data.length) {
        written += p.client.writeStream(id, data.subarray(written));
        if (written === data.length) p.client.finishStream(id);
      }
      p.server!.acceptStream('uni');
      for (let b = safeRead(p, id); b && b.length > 0; b = safeRead(p, id)) got += b.length;
      return got === data.length;
    }, 20_000);
    assert.ok(p.client.internals.multipath.pathAt(1)!.recovery.mtu.current <= 1350);
  });
});

function safeRead(p: Pair, id: number): Uint8Array | null {
  try {
    return p.server!.readStream(id);
  } catch {
    return null;
  }
}
