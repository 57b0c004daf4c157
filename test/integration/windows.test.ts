import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { DEFAULT_STREAM_LIMITS } from '../../src/quic/streams/stream-types.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { Loopback, readAll, within } from './util.js';

/**
 * Flow-control windows at least iroh's ([first-hour] item 5): a message written and closed before
 * the peer's application accepts its stream completes, because the peer's stack acknowledges
 * what its windows hold (a writer's close() waits for that acknowledgment, not for a read).
 */
describe('Flow-control windows over real UDP (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind();
    client = await net.bind({ acceptIncoming: false });
  });
  afterEach(() => net.close());

  it("defaults are at least iroh's: stream 1,250,000 bytes, the connection larger, both auto-tuned above", () => {
    assert.ok(DEFAULT_STREAM_LIMITS.initialStreamWindow >= 1_250_000);
    assert.ok(DEFAULT_STREAM_LIMITS.initialConnectionWindow > DEFAULT_STREAM_LIMITS.initialStreamWindow);
    assert.ok(DEFAULT_STREAM_LIMITS.maxStreamWindow > DEFAULT_STREAM_LIMITS.initialStreamWindow);
    assert.ok(DEFAULT_STREAM_LIMITS.maxConnectionWindow > DEFAULT_STREAM_LIMITS.initialConnectionWindow);
  });

  for (const size of [300_000, 1_000_000]) {
    it(`${size.toLocaleString('en')} bytes written and closed before the peer accepts the stream: close() resolves, then the peer reads them all`, async () => {
      const { s, peer } = await net.connect(client, server);
      const data = new SeededRandom(size).fill(new Uint8Array(size));
      const { writable } = await s.createBidirectionalStream();
      const writer = writable.getWriter();
      await within(
        (async () => {
          await writer.write(data);
          await writer.close();
        })(),
        10_000,
        'write and close with nobody reading',
      );
      const st = await within(peer.nextBidiStream(), 2_000, 'accept');
      assert.ok(st);
      assert.ok(bytesEqual(await within(readAll(st.readable), 5_000, 'read'), data));
    });
  }
});
