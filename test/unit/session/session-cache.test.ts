import assert from 'node:assert/strict';
import { MAX_CACHED_SERVERS, MAX_TICKETS_PER_SERVER, MemorySessionCache } from '../../../src/session/session-cache.js';
import type { ResumptionTicket } from '../../../src/tls/resumption.js';

function ticket(n: number, over: Partial<ResumptionTicket> = {}): ResumptionTicket {
  return {
    ticket: Uint8Array.of(n), psk: new Uint8Array(32), suite: 0x1301, alpn: 'a', receivedAt: 0, lifetimeS: 60,
    ageAdd: 0, maxEarlyData: 0, peerKey: undefined, transportParameters: undefined, ...over,
  };
}

describe('session cache (tickets and NEW_TOKEN tokens per server)', () => {
  it(`keeps at most ${MAX_TICKETS_PER_SERVER} tickets per server, newest first out, each taken once`, () => {
    const c = new MemorySessionCache(() => 0);
    for (let i = 0; i < 10; i++) c.putTicket('s', ticket(i));
    assert.equal(c.ticketCount('s'), MAX_TICKETS_PER_SERVER);
    assert.equal(c.takeTicket('s', 'a')?.ticket[0], 9);
    assert.equal(c.takeTicket('s', 'a')?.ticket[0], 8);
    assert.equal(c.ticketCount('s'), MAX_TICKETS_PER_SERVER - 2);
  });

  it('a ticket for another ALPN or an expired one is not handed out', () => {
    let now = 0;
    const c = new MemorySessionCache(() => now);
    c.putTicket('s', ticket(1, { alpn: 'b' }));
    assert.equal(c.takeTicket('s', 'a'), undefined);
    assert.equal(c.takeTicket('other', 'b'), undefined);
    c.putTicket('s', ticket(2));
    now = 60_000;
    assert.equal(c.takeTicket('s', 'a'), undefined, 'expired at its lifetime');
    assert.equal(c.ticketCount('s'), 0, 'expired tickets are dropped');
  });

  it(`remembers at most ${MAX_CACHED_SERVERS} servers (the least recently used is forgotten); a token is kept until replaced`, () => {
    const c = new MemorySessionCache(() => 0);
    c.putToken('first', Uint8Array.of(1));
    for (let i = 0; i < MAX_CACHED_SERVERS; i++) c.putTicket(`s${i}`, ticket(i));
    assert.equal(c.token('first'), undefined);
    assert.equal(c.ticketCount('s0'), 1);
    c.putToken('s0', Uint8Array.of(7));
    c.putToken('s0', Uint8Array.of(8));
    assert.deepEqual(c.token('s0'), Uint8Array.of(8));
    assert.deepEqual(c.token('s0'), Uint8Array.of(8), 'a token may be presented again');
  });
});
