import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Endpoint } from '../../src/session/endpoint.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { SeededRandom } from '../../src/tls/random.js';
import { Loopback, readAll, sleep, within } from './util.js';

/** A collector to call before each memory sample, so garbage does not read as growth. */
function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = vm.runInNewContext('gc');
  return typeof gc === 'function' ? (gc as () => void) : () => {};
}

const KiB = 1024;
const SEND_BUFFER = 64 * KiB;
const STREAM_WINDOW = 128 * KiB;

describe('Backpressure over real UDP (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind({
      transport: {
        streams: {
          initialStreamWindow: STREAM_WINDOW,
          maxStreamWindow: STREAM_WINDOW,
          initialConnectionWindow: 4 * STREAM_WINDOW,
          maxConnectionWindow: 4 * STREAM_WINDOW,
        },
      },
    });
    client = await net.bind({ acceptIncoming: false, transport: { streams: { sendBufferSize: SEND_BUFFER } } });
  });
  afterEach(() => net.close());

  it('a server that does not read stalls the writer (bounded bytes, flat memory, idle CPU); then everything arrives', async () => {
    const { s, peer } = await net.connect(client, server);
    const data = new SeededRandom(21).fill(new Uint8Array(4 * 1024 * KiB));
    const st = await s.createBidirectionalStream();
    const writer = st.writable.getWriter();
    let accepted = 0;
    let finished = false;
    const writing = (async () => {
      for (let off = 0; off < data.length; off += 16 * KiB) {
        await writer.write(data.subarray(off, off + 16 * KiB));
        accepted += 16 * KiB;
      }
      await writer.close();
      finished = true;
    })();
    // The server takes the stream but does not read it.
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming stream'))!;

    // Let the writer fill what flow control allows and stall.
    let last = -1;
    for (let i = 0; i < 50 && accepted !== last; i++) {
      last = accepted;
      await sleep(100);
    }
    assert.equal(accepted, last, 'the writer stalled');
    assert.ok(accepted > 0, 'something was accepted');
    assert.ok(accepted <= SEND_BUFFER + STREAM_WINDOW, `write() accepted ${accepted} bytes > send buffer ${SEND_BUFFER} + window ${STREAM_WINDOW}`);

    // While blocked: nothing more is accepted, memory does not grow, the process is idle.
    const gc = gcFunction();
    gc();
    const before = process.memoryUsage();
    const cpu0 = process.cpuUsage();
    const sent0 = client.core.stats.datagramsSent;
    const heap: number[] = [];
    const buffers: number[] = [];
    for (let i = 0; i < 8; i++) {
      await sleep(250);
      gc();
      const m = process.memoryUsage();
      heap.push(m.heapUsed - before.heapUsed);
      buffers.push(m.arrayBuffers - before.arrayBuffers);
    }
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const datagrams = client.core.stats.datagramsSent - sent0;
    if (process.env.QP_VERBOSE) console.log({ accepted, heap, buffers, cpuMs, datagrams });
    assert.equal(accepted, last, 'still stalled after 2 s');
    assert.equal(finished, false);
    const maxHeap = Math.max(...heap);
    const maxBuffers = Math.max(...buffers);
    assert.ok(maxHeap < 2 * 1024 * KiB, `heap grew by ${maxHeap} bytes while blocked (${heap.join(', ')})`);
    assert.ok(maxBuffers < 1024 * KiB, `array buffers grew by ${maxBuffers} bytes while blocked (${buffers.join(', ')})`);
    assert.ok(cpuMs < 1_000, `the blocked writer used ${cpuMs.toFixed(0)} ms of CPU in 2 s`);
    assert.ok(datagrams < 100, `the blocked client sent ${datagrams} datagrams in 2 s`);

    // The reader reads: the writer resumes and every byte arrives, in order.
    const got = await within(readAll(incoming.readable), 10_000, 'read everything');
    await within(writing, 5_000, 'writer done');
    assert.equal(got.length, data.length);
    assert.ok(bytesEqual(got, data), 'byte for byte');
  });
});
