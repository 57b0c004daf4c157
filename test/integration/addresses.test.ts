import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { decodeEndpointTicket } from '../../src/session/addressing.js';
import { ConnectError } from '../../src/session/errors.js';
import { echoBidi, readAll, within, writeAll } from './util.js';

/**
 * Where an endpoint binds, what it advertises and what it dials, over real UDP. Every dial here
 * goes to a loopback address: an endpoint bound to all interfaces is only ever dialled through its
 * 127.0.0.1 address, and what it would pick among non-loopback addresses is the unit test's
 * business (test/unit/session/local-addrs.test.ts).
 */
describe('Endpoint addresses over real UDP', function () {
  this.timeout(20_000);
  const endpoints: Endpoint[] = [];
  afterEach(async () => {
    await Promise.all(endpoints.splice(0).map((e) => e.close()));
  });
  const bind = async (...args: Parameters<typeof Endpoint.bind>): Promise<Endpoint> => {
    const ep = await Endpoint.bind(...args);
    endpoints.push(ep);
    return ep;
  };

  it('Endpoint.bind() binds every interface: 0.0.0.0 and, where the host has IPv6, [::]', async () => {
    const ep = await bind({ acceptIncoming: false });
    assert.match(ep.boundAddresses[0]!, /^0\.0\.0\.0:\d+$/);
    for (const a of ep.boundAddresses.slice(1)) assert.match(a, /^\[::\]:\d+$/);
  });

  it('a 0.0.0.0 / [::] bind: addr() and the ticket list no unspecified address and no link-local IPv6; loopback included', async () => {
    const ep = await bind({ bind: ['0.0.0.0:0', '[::]:0'] }).catch(() => bind({ bind: '0.0.0.0:0' }));
    const addrs = ep.addr().addrs;
    assert.ok(addrs.length > 0);
    for (const a of addrs) {
      assert.doesNotMatch(a, /^0\.0\.0\.0:|^\[::\]:/, a);
      assert.doesNotMatch(a, /^\[fe[89ab][0-9a-f]:/i, a);
    }
    const port = ep.boundAddresses[0]!.split(':')[1];
    assert.ok(addrs.includes(`127.0.0.1:${port}`), addrs.join(' '));
    assert.deepEqual([...decodeEndpointTicket(ep.ticket()).addrs].sort(), [...addrs].sort());
  });

  it('an endpoint bound to all interfaces dials a loopback listener and talks', async () => {
    const server = await bind({ bind: '127.0.0.1:0' });
    const client = await bind({ acceptIncoming: false });
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, server.ticket()), 5_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    assert.equal(s.remoteAddress, server.boundAddresses[0]);
    echoBidi(peer);
    const st = await s.createBidirectionalStream();
    const [echo] = await Promise.all([readAll(st.readable), writeAll(st.writable, new Uint8Array(5000).fill(7))]);
    assert.equal(echo.length, 5000);
  });

  it('a loopback-bound endpoint refuses at once a remote none of whose addresses it can reach', async () => {
    const client = await bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    const other = await bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    // Nothing is sent: the dial fails before a packet is built.
    await assert.rejects(
      Session.connect(client, { id: other.id, addrs: ['192.0.2.1:4433'] }),
      (e: unknown) => e instanceof ConnectError && e.kind === 'no-address' && /192\.0\.2\.1:4433: our IPv4 socket is bound to loopback/.test(e.message),
    );
  });

  it('a dial the OS refuses to send fails at once with the OS reason, not as a timeout', async function () {
    const server = await bind({ bind: '127.0.0.1:0' });
    let client: Endpoint;
    try {
      client = await bind({ bind: '[::]:0', acceptIncoming: false });
    } catch (e) {
      console.log(`      (skipped: cannot bind [::]: ${(e as Error).message})`);
      this.skip();
    }
    // An IPv4-mapped address from an IPv6-only socket (ours are): Linux refuses it with
    // ENETUNREACH. The destination is 127.0.0.1 in IPv6 form, and nothing is sent.
    const port = server.boundAddresses[0]!.split(':')[1];
    const t0 = performance.now();
    await assert.rejects(
      Session.connect(client, `${server.id.toString()}@[::ffff:127.0.0.1]:${port}`, { timeoutMs: 10_000 }),
      (e: unknown) => {
        assert.ok(e instanceof ConnectError, String(e));
        assert.equal(e.kind, 'unreachable', e.message);
        assert.match(e.message, new RegExp(`cannot send to \\[::ffff:127\\.0\\.0\\.1\\]:${port}: \\S.*\\(E[A-Z]+\\)$`));
        return true;
      },
    );
    const took = performance.now() - t0;
    assert.ok(took < 2_000, `the dial took ${took.toFixed(0)} ms`);
  });
});
