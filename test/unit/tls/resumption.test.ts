import assert from 'node:assert/strict';
import { Alert } from '../../../src/tls/alerts.js';
import { Level, type TlsEvent } from '../../../src/tls/engine.js';
import { ExtensionType } from '../../../src/tls/extensions.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { TicketKeys, type ResumptionTicket, type ServerTickets } from '../../../src/tls/resumption.js';
import { CIPHER_SUITES } from '../../../src/tls/suites.js';
import { CLIENT_KEY, clientConfig, describe_, replaceExtension, runHandshake, serverConfig, SERVER_KEY } from './helpers.js';

/** A virtual clock shared by both ends. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function tickets(c: { now: () => number }, over: Partial<ServerTickets> = {}): ServerTickets {
  return { keys: new TicketKeys(new SeededRandom(77), c.now()), count: 2, lifetimeS: 3600, now: c.now, ...over };
}

function stored(events: readonly TlsEvent[]): ResumptionTicket[] {
  return events.flatMap((e) => (e.kind === 'sessionTicket' && e.resumption ? [e.resumption] : []));
}

describe('TLS resumption (RFC 9846 §2.2, §4.2.11, §4.6.1)', () => {
  it('a full handshake issues tickets; one resumes: no certificates, the server id and client id kept', () => {
    const c = clock();
    const st = tickets(c);
    const full = runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st }));
    assert.equal(full.error, undefined);
    assert.equal(full.client.resumed, false);
    const ts = stored(full.clientEvents);
    assert.equal(ts.length, 2);
    assert.notDeepEqual(ts[0]!.psk, ts[1]!.psk);
    assert.deepEqual(Uint8Array.from(ts[0]!.peerKey!), Uint8Array.from(SERVER_KEY));
    assert.equal(ts[0]!.alpn, 'test/1');
    c.advance(10_000);
    const r = runHandshake(clientConfig({ now: c.now, resumption: ts[0]! }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r.error, undefined);
    assert.equal(r.client.resumed, true);
    assert.equal(r.server.resumed, true);
    assert.deepEqual(Uint8Array.from(r.client.peerPublicKey!), Uint8Array.from(SERVER_KEY));
    assert.deepEqual(Uint8Array.from(r.server.peerPublicKey!), Uint8Array.from(CLIENT_KEY));
    assert.equal(r.client.handshakeComplete && r.server.handshakeComplete, true);
    // One Handshake flight each way without Certificate/CertificateVerify: the server's is small.
    const flight = r.serverEvents.find((e) => e.kind === 'writeData' && e.level === Level.Handshake);
    assert.ok(flight?.kind === 'writeData' && flight.data.length < 200);
    assert.equal(stored(r.clientEvents).length, 2, 'a resumed session gets new tickets');
    // Both ends agree on the application secrets.
    const sec = (evs: readonly TlsEvent[], kind: string) => evs.find((e) => e.kind === kind && 'level' in e && e.level === Level.Application);
    assert.deepEqual((sec(r.clientEvents, 'writeSecret') as { secret: Uint8Array }).secret, (sec(r.serverEvents, 'readSecret') as { secret: Uint8Array }).secret);
  });

  it('a client that offers no psk_key_exchange_modes (it keeps no tickets) gets none: RFC 9846 §4.2.9', () => {
    const c = clock();
    const st = tickets(c);
    const none = runHandshake(clientConfig({ now: c.now, offerPskModes: false }), serverConfig({ tickets: st }));
    assert.equal(none.error, undefined);
    assert.equal(none.client.handshakeComplete && none.server.handshakeComplete, true);
    assert.equal(stored(none.clientEvents).length, 0);
    const appData = (evs: readonly TlsEvent[]) => evs.filter((e) => e.kind === 'writeData' && e.level === Level.Application);
    assert.equal(appData(none.serverEvents).length, 0, 'no NewSessionTicket was written');
    // The same server still issues them to a client that asks.
    const some = runHandshake(clientConfig({ now: c.now }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(stored(some.clientEvents).length, 2);
    assert.equal(appData(some.serverEvents).length, 1);
  });

  it('a malformed psk_key_exchange_modes is a decode_error even without a pre_shared_key (the server reads it on every ClientHello)', () => {
    const c = clock();
    const r = runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: tickets(c) }), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Initial ? replaceExtension(data, ExtensionType.psk_key_exchange_modes, Uint8Array.of(0)) : data),
    });
    assert.equal(r.error?.side, 'server');
    assert.equal(r.error?.alert.alert, Alert.decode_error);
  });

  it('resumes with each cipher suite', () => {
    for (const suite of CIPHER_SUITES.keys()) {
      const c = clock();
      const st = tickets(c);
      const full = runHandshake(clientConfig({ now: c.now, cipherSuites: [suite] }), serverConfig({ tickets: st }));
      const t = stored(full.clientEvents)[0]!;
      const r = runHandshake(clientConfig({ now: c.now, cipherSuites: [suite], resumption: t }, 5), serverConfig({ tickets: st }, 6));
      assert.equal(r.error, undefined, `suite 0x${suite.toString(16)}`);
      assert.equal(r.client.resumed, true);
    }
  });

  it('resumes after a HelloRetryRequest (binder over message_hash + HRR + truncated hello)', () => {
    const c = clock();
    const st = tickets(c);
    const t = stored(runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st })).clientEvents)[0]!;
    const r = runHandshake(clientConfig({ now: c.now, resumption: t, initialKeyShares: [] }, 7), serverConfig({ tickets: st }, 8));
    assert.equal(r.error, undefined);
    assert.equal(r.client.resumed, true);
    assert.equal(r.clientEvents.filter((e) => e.kind === 'writeData' && e.level === Level.Initial).length, 2);
  });

  it('an expired ticket is not offered; one the server finds expired gives a full handshake', () => {
    const c = clock();
    const st = tickets(c, { lifetimeS: 60 });
    const t = stored(runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st })).clientEvents)[0]!;
    c.advance(60_000);
    const r = runHandshake(clientConfig({ now: c.now, resumption: t }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r.error, undefined);
    assert.equal(r.client.resumed, false);
    // The client's clock lags: it offers, the server refuses and authenticates with its key.
    const lagging = { ...t, receivedAt: c.now() };
    const r2 = runHandshake(clientConfig({ now: c.now, resumption: lagging }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r2.error, undefined);
    assert.equal(r2.client.resumed, false);
    assert.equal(r2.server.resumed, false);
  });

  it('a ticket for another identity or another ALPN is not offered', () => {
    const c = clock();
    const st = tickets(c);
    const t = stored(runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st })).clientEvents)[0]!;
    const other = runHandshake(clientConfig({ now: c.now, resumption: t, expectedPeerKey: CLIENT_KEY }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(other.client.resumed, false);
    assert.equal(other.error?.alert.alert, Alert.bad_certificate, 'the full handshake then fails on the id');
    const alpn = runHandshake(clientConfig({ now: c.now, resumption: t, alpnProtocols: ['test/2'] }, 3), serverConfig({ tickets: st, alpnProtocols: ['test/1', 'test/2'] }, 4));
    assert.equal(alpn.error, undefined);
    assert.equal(alpn.client.resumed, false);
    // Offered anyway (a forged ticket record claiming another ALPN): the server sees its ALPN differs.
    const forged = runHandshake(clientConfig({ now: c.now, resumption: { ...t, alpn: 'test/2' }, alpnProtocols: ['test/2', 'test/1'] }, 3), serverConfig({ tickets: st, alpnProtocols: ['test/2', 'test/1'] }, 4));
    assert.equal(forged.error, undefined);
    assert.equal(forged.server.resumed, false);
  });

  it('ticket key rotation: the previous key still opens, the one before does not', () => {
    const c = clock();
    const st = tickets(c);
    const t = stored(runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st })).clientEvents)[0]!;
    st.keys.rotateNow(c.now());
    assert.equal(runHandshake(clientConfig({ now: c.now, resumption: t }, 3), serverConfig({ tickets: st }, 4)).server.resumed, true);
    st.keys.rotateNow(c.now());
    const r = runHandshake(clientConfig({ now: c.now, resumption: t }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r.error, undefined);
    assert.equal(r.server.resumed, false);
    // rotate() turns the key once it is rotationMs old.
    const keys = new TicketKeys(new SeededRandom(1), 0, 1000);
    const sealed = keys.seal({ suite: 0x1301, issuedAt: 0, ageAdd: 0, lifetimeS: 1, maxEarlyData: 0, alpn: 'a', psk: new Uint8Array(32), peerKey: undefined, transportParameters: undefined });
    keys.rotate(999);
    keys.rotate(1000);
    assert.ok(keys.open(sealed));
    keys.rotate(2000);
    assert.equal(keys.open(sealed), undefined);
  });

  it('a forged or altered ticket gives a full handshake; a wrong binder is a decrypt_error', () => {
    const c = clock();
    const st = tickets(c);
    const t = stored(runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: st })).clientEvents)[0]!;
    const altered = t.ticket.slice();
    altered[20]! ^= 1;
    const r = runHandshake(clientConfig({ now: c.now, resumption: { ...t, ticket: altered } }, 3), serverConfig({ tickets: st }, 4));
    assert.equal(r.error, undefined);
    assert.equal(r.server.resumed, false);
    const wrongPsk = runHandshake(clientConfig({ now: c.now, resumption: { ...t, psk: new Uint8Array(32) } }, 3), serverConfig({ tickets: st }, 4));
    assert.deepEqual([wrongPsk.error?.side, wrongPsk.error?.alert.alert], ['server', Alert.decrypt_error]);
    // A server without tickets ignores the offer.
    const none = runHandshake(clientConfig({ now: c.now, resumption: t }, 3), serverConfig({}, 4));
    assert.equal(none.error, undefined);
    assert.equal(none.client.resumed, false);
  });

  it('a server without tickets sends none; event order of a full handshake with tickets', () => {
    const c = clock();
    const r = runHandshake(clientConfig({ now: c.now }), serverConfig({ tickets: tickets(c) }));
    assert.deepEqual(r.serverEvents.map(describe_).slice(-2), ['handshakeDone', 'writeData(Application)']);
    assert.equal(stored(runHandshake(clientConfig(), serverConfig()).clientEvents).length, 0);
  });
});
