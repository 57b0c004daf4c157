import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { ConnectError } from '../../src/session/errors.js';
import { Loopback, within } from './util.js';

/** A loopback UDP port nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(resolve));
  return port;
}

/** Rejects like `connect` to a silent or closed address must: a timeout ConnectError whose message matches. */
function timeoutError(message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ConnectError, String(e));
    assert.equal(e.kind, 'timeout');
    assert.match(e.message, message);
    return true;
  };
}

describe('Dialling over real UDP (loopback): timeouts', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  afterEach(() => net.close());
  beforeEach(async () => {
    server = await net.bind();
  });

  it("timeoutMs bounds the dial even above the transport's handshakeTimeoutMs, with one message for 'nothing came back'", async () => {
    // The transport would give up a handshake after 300 ms; the dial asks for 1500.
    const client = await net.bind({ acceptIncoming: false, transport: { handshakeTimeoutMs: 300, initialRttMs: 30 } });
    const silent = await net.bind({ acceptIncoming: false });
    const t0 = performance.now();
    await assert.rejects(
      within(Session.connect(client, `${server.id.toString()}@${silent.boundAddresses[0]}`, { timeoutMs: 1500 }), 5_000, 'dial'),
      timeoutError(/no answer within 1500 ms: nothing is listening there, or every packet was lost/),
    );
    const took = performance.now() - t0;
    assert.ok(took >= 1450 && took < 2500, `the dial failed after ${took.toFixed(0)} ms`);
    // Without timeoutMs, the endpoint's default follows the transport's handshake timeout.
    assert.equal(client.dialTimeoutMs, 300);
  });

  it('the endpoint dialTimeoutMs is the default, and the same cause gives the same message', async () => {
    const client = await net.bind({ acceptIncoming: false, dialTimeoutMs: 700, transport: { initialRttMs: 30 } });
    const silent = await net.bind({ acceptIncoming: false });
    const t0 = performance.now();
    await assert.rejects(
      within(Session.connect(client, `${server.id.toString()}@${silent.boundAddresses[0]}`), 5_000, 'dial'),
      timeoutError(/no answer within 700 ms: nothing is listening there/),
    );
    const took = performance.now() - t0;
    assert.ok(took >= 650 && took < 1700, `the dial failed after ${took.toFixed(0)} ms`);
  });

  it('a dial to a closed port fails at the timeout and says that nothing may be listening (no ICMP on an unconnected socket)', async () => {
    const client = await net.bind({ acceptIncoming: false, transport: { initialRttMs: 30 } });
    const port = await closedPort();
    await assert.rejects(
      within(Session.connect(client, `${server.id.toString()}@127.0.0.1:${port}`, { timeoutMs: 400 }), 5_000, 'dial'),
      timeoutError(/@127\.0\.0\.1:\d+: no answer within 400 ms: nothing is listening there, or every packet was lost \(a closed UDP port is not reported to us\)/),
    );
  });
});
