import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';

/**
 * A packet declared lost that the peer acknowledges after all (reordering: RFC 9002 §6.1 declares
 * it lost three packets or 9/8 RTT behind) still counts for its stream: the sender does not wait for
 * the copy it re-sent. What it guards: a server that reads everything and closes at once (its
 * CONNECTION_CLOSE carries its last ACK) left the client's stream short of "all acknowledged"
 * whenever a re-sent copy was still in flight, and the client's `writer.close()` failed although
 * every byte had arrived. Sans-IO, virtual time, seeded reordering.
 */
describe('connection: an ACK of a packet already declared lost', () => {
  it('over a reordering link, the client\'s stream is fully acknowledged when the server closes right after reading it', () => {
    let spurious = 0;
    for (let seed = 0; seed < 30; seed++) {
      const p = new Pair({ seed: testSeed(900 + seed), clientToServer: { delayMs: 5, jitterMs: 6 }, serverToClient: { delayMs: 5 } });
      p.handshake();
      const id = p.client.openStream('uni')!;
      const data = new Uint8Array(200_000);
      let off = 0;
      let serverRead = 0;
      let serverClosed = false;
      let accepted = false;
      let doneWhenClosed: boolean | undefined;
      p.drive(() => {
        while (off < data.length) {
          const n = p.client.writeStream(id, data.subarray(off));
          if (n === 0) break;
          off += n;
          if (off === data.length) p.client.finishStream(id);
        }
        const s = p.server;
        if (s && !serverClosed) {
          accepted ||= s.acceptStream('uni') === id;
          if (accepted) {
            const r = s.recvStream(id);
            for (let d = r.read(); d !== null; d = r.read()) serverRead += d.length;
            if (r.ended || r.isGone) {
              s.close(p.now, 0, 'read it all');
              serverClosed = true;
            }
          }
        }
        if (doneWhenClosed === undefined && p.client.isClosed) doneWhenClosed = p.client.sendStream(id).isDone;
        return doneWhenClosed !== undefined;
      });
      assert.equal(serverRead, data.length, `seed ${seed}`);
      assert.equal(doneWhenClosed, true, `seed ${seed}: the client's stream was not fully acknowledged when the close arrived`);
      spurious += p.client.getStats().packetsLost;
    }
    assert.ok(spurious > 0, 'the link reordered enough for packets to be declared lost');
  });
});
