import assert from 'node:assert/strict';
import { Level, type TlsEvent } from '../../../src/tls/engine.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { TicketKeys, type ResumptionTicket, type ServerTickets } from '../../../src/tls/resumption.js';
import { StrikeRegister } from '../../../src/tls/anti-replay.js';
import { clientConfig, runHandshake, serverConfig } from './helpers.js';

/**
 * TLS early data (RFC 9846 §4.2.10, §7.1; RFC 9001 §4.6): the offer, the 0-RTT secret on both
 * ends, acceptance in EncryptedExtensions, and every reason to refuse.
 */
const now = (): number => 1_000_000;

function tickets(over: Partial<ServerTickets> = {}): ServerTickets {
  return { keys: new TicketKeys(new SeededRandom(77), now()), count: 1, lifetimeS: 3600, now, maxEarlyData: 0xffffffff, replay: new StrikeRegister(), ...over };
}

function ticketOf(st: ServerTickets): ResumptionTicket {
  const r = runHandshake(clientConfig({ now }), serverConfig({ tickets: st }));
  const e = r.clientEvents.find((x) => x.kind === 'sessionTicket');
  assert.ok(e && e.kind === 'sessionTicket' && e.resumption);
  return e.resumption;
}

function earlySecret(events: readonly TlsEvent[], kind: 'readSecret' | 'writeSecret'): Uint8Array | undefined {
  const e = events.find((x) => x.kind === kind && x.level === Level.EarlyData);
  return e && 'secret' in e ? e.secret : undefined;
}

describe('TLS early data (RFC 9846 §4.2.10, RFC 9001 §4.6)', () => {
  it('offered with a ticket that allows it; accepted: both ends derive the same client_early_traffic_secret', () => {
    const st = tickets();
    const t = ticketOf(st);
    assert.equal(t.maxEarlyData, 0xffffffff, 'QUIC tickets say 0xffffffff (RFC 9001 §4.6.1)');
    const r = runHandshake(clientConfig({ now, resumption: t, earlyData: true }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r.error, undefined);
    const c = earlySecret(r.clientEvents, 'writeSecret');
    assert.ok(c);
    assert.deepEqual(earlySecret(r.serverEvents, 'readSecret'), c);
    assert.equal(r.client.earlyData, 'accepted');
    assert.equal(r.server.earlyData, 'accepted');
    assert.deepEqual(r.clientEvents.filter((e) => e.kind === 'earlyData'), [{ kind: 'earlyData', accepted: true }]);
  });

  it('not offered without earlyData, nor with a ticket that does not allow it', () => {
    const st = tickets();
    const r1 = runHandshake(clientConfig({ now, resumption: ticketOf(st) }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r1.client.earlyData, 'none');
    assert.equal(earlySecret(r1.clientEvents, 'writeSecret'), undefined);
    const off = tickets({ maxEarlyData: 0 });
    const t = ticketOf(off);
    assert.equal(t.maxEarlyData, 0, 'no early_data extension in the ticket');
    const r2 = runHandshake(clientConfig({ now, resumption: t, earlyData: true }, 3), serverConfig({ tickets: off }, 4));
    assert.equal(r2.client.earlyData, 'none');
    assert.equal(r2.client.resumed, true);
  });

  it('refused: server with early data off now, a second use of the ticket, a HelloRetryRequest, the QUIC layer saying no', () => {
    const st = tickets();
    const cases: Array<[string, Partial<Parameters<typeof clientConfig>[0]>, ServerTickets, Parameters<typeof serverConfig>[0]]> = [];
    const t1 = ticketOf(st);
    cases.push(['server off', {}, { ...st, maxEarlyData: 0 }, {}]);
    cases.push(['QUIC says no', {}, st, { acceptEarlyData: () => false }]);
    for (const [what, client, server, extra] of cases) {
      const r = runHandshake(clientConfig({ now, resumption: t1, earlyData: true, ...client }, 3), serverConfig({ tickets: server, ...extra }, 4));
      assert.equal(r.error, undefined, what);
      assert.equal(r.client.resumed, true, what);
      assert.equal(r.client.earlyData, 'rejected', what);
      assert.equal(r.server.earlyData, 'rejected', what);
      assert.equal(earlySecret(r.serverEvents, 'readSecret'), undefined, what);
    }
    // Single use: the first accepted, the same ticket again refused.
    const t2 = ticketOf(st);
    assert.equal(runHandshake(clientConfig({ now, resumption: t2, earlyData: true }, 3), serverConfig({ tickets: st }, 4)).server.earlyData, 'accepted');
    assert.equal(runHandshake(clientConfig({ now, resumption: t2, earlyData: true }, 5), serverConfig({ tickets: st }, 6)).server.earlyData, 'rejected');
    // RFC 9001 §4.6.2: a HelloRetryRequest always rejects 0-RTT (the second hello has no early_data).
    const t3 = ticketOf(st);
    const h = runHandshake(clientConfig({ now, resumption: t3, earlyData: true, initialKeyShares: [] }, 7), serverConfig({ tickets: st }, 8));
    assert.equal(h.error, undefined);
    assert.equal(h.client.earlyData, 'rejected');
    assert.deepEqual(h.clientEvents.filter((e) => e.kind === 'earlyData'), [{ kind: 'earlyData', accepted: false }]);
  });
});
