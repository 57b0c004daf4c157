import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { decodeEndpointTicket, encodeEndpointTicket } from '../../src/session/addressing.js';
import { SeededRandom } from '../../src/tls/random.js';
import { within } from './util.js';
import { CLI_MAIN as main, sha256Hex as sha, startCli as start, untilValue as until } from './cli-process.js';

/**
 * The CLI pair through `quic-peer relay`, as a user runs it (three processes, loopback): `listen
 * --relay URL` prints a ticket that carries the relay, and `connect` with that ticket stripped of
 * its direct addresses goes through the relay, the only way left. A 20 MB file, byte for byte.
 * The dialer says `--no-multipath`: with multipath and NAT traversal (the default) the pair would
 * find a direct path on loopback and leave the relay (test/integration/cli-paths.test.ts).
 */


describe('quic-peer listen --relay / connect through `quic-peer relay` (three processes)', function () {
  this.timeout(90_000);
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('a 20 MB file from connect to listen and back the other way, through the relay only, byte for byte', async () => {
    const relay = start(['relay', '--bind', '127.0.0.1:0']);
    children.push(relay.child);
    const url = await until(() => /(http:\/\/\S+)/.exec(Buffer.concat(relay.out).toString())?.[1], 10_000, 'relay prints its URL');
    const up = new SeededRandom(20).fill(new Uint8Array(20 * 1024 * 1024));
    const down = new SeededRandom(21).fill(new Uint8Array(1024 * 1024));
    const listener = start(['listen', '--bind', '127.0.0.1:0', '--relay', url]);
    children.push(listener.child);
    const ticketText = await until(() => /^ticket (\S+)$/m.exec(listener.err())?.[1], 10_000, 'listen prints its ticket');
    assert.match(listener.err(), new RegExp(`^relay ${new URL(url).href.replace(/[/.]/g, '\\$&')}$`, 'm'), 'listen says it is connected to its relay');
    const ticket = decodeEndpointTicket(ticketText);
    assert.deepEqual(ticket.relays, [new URL(url).href], 'the ticket carries the relay');
    listener.child.stdin!.end(down);
    const relayOnly = encodeEndpointTicket({ id: ticket.id, addrs: [], relays: ticket.relays ?? [] });
    const dialer = start(['connect', '--bind', '127.0.0.1:0', '--timeout-ms', '15000', '--no-multipath', relayOnly]);
    children.push(dialer.child);
    dialer.child.stdin!.end(up);
    const [dialCode, listenCode] = await within(Promise.all([dialer.exited, listener.exited]), 80_000, 'the pair');
    assert.equal(dialCode, 0, dialer.err());
    assert.equal(listenCode, 0, listener.err());
    assert.equal(sha(Buffer.concat(listener.out)), sha(up), 'connect -> listen byte-exact');
    assert.equal(sha(Buffer.concat(dialer.out)), sha(down), 'listen -> connect byte-exact');
    assert.match(listener.err(), /relay:[0-9a-f]{64}@http/, 'the listener logged a session that came through the relay');
    assert.doesNotMatch(listener.err(), /path/, 'and it never left the relay');
    relay.child.kill('SIGINT');
    assert.equal(await within(relay.exited, 10_000, 'relay exits'), 130);
  });

  it('--relay takes a relay URL: anything else is a usage error naming the option', async () => {
    const bad = start(['connect', '--relay', 'ftp://x', 'endpointabc']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.err(), /option '--relay' takes a relay URL/);
  });
});
