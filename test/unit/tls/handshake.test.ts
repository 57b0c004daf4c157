import assert from 'node:assert/strict';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import { Level, type TlsEvent } from '../../../src/tls/engine.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { TlsClient } from '../../../src/tls/client.js';
import { TlsServer } from '../../../src/tls/server.js';
import {
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
} from '../../../src/tls/suites.js';
import { toHex } from '../../../src/codec/bytes.js';
import {
  CLIENT_KEY,
  CLIENT_TP,
  SERVER_KEY,
  SERVER_TP,
  buildHello,
  clientConfig,
  describe_,
  dropExtension,
  expectFailure,
  parseHello,
  replaceExtension,
  runHandshake,
  serverConfig,
} from './helpers.js';

function secretOf(events: TlsEvent[], kind: 'readSecret' | 'writeSecret', level: Level): string {
  const ev = events.find((e) => e.kind === kind && e.level === level);
  assert.ok(ev && (ev.kind === 'readSecret' || ev.kind === 'writeSecret'), `no ${kind} at ${level}`);
  return toHex(ev.secret);
}

describe('TLS handshake (in memory, raw public keys, QUIC mode)', () => {
  for (const suite of [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]) {
    it(`completes with suite 0x${suite.toString(16)}, keys, ALPN, transport parameters and secrets agree`, () => {
      const r = runHandshake(clientConfig({ cipherSuites: [suite] }), serverConfig());
      assert.equal(r.error, undefined, r.error?.alert.message);
      const { client, server } = r;
      assert.ok(client.handshakeComplete && server.handshakeComplete);
      assert.equal(client.suite?.id, suite);
      assert.equal(server.suite?.id, suite);
      assert.deepEqual(client.peerPublicKey, SERVER_KEY);
      assert.deepEqual(server.peerPublicKey, CLIENT_KEY);
      assert.equal(client.alpn, 'test/1');
      assert.equal(server.alpn, 'test/1');
      const ctp = r.clientEvents.find((e) => e.kind === 'peerTransportParameters');
      const stp = r.serverEvents.find((e) => e.kind === 'peerTransportParameters');
      assert.ok(ctp?.kind === 'peerTransportParameters' && stp?.kind === 'peerTransportParameters');
      assert.deepEqual(ctp.data, SERVER_TP);
      assert.deepEqual(stp.data, CLIENT_TP);
      for (const level of [Level.Handshake, Level.Application]) {
        assert.equal(secretOf(r.clientEvents, 'writeSecret', level), secretOf(r.serverEvents, 'readSecret', level));
        assert.equal(secretOf(r.serverEvents, 'writeSecret', level), secretOf(r.clientEvents, 'readSecret', level));
        assert.notEqual(secretOf(r.clientEvents, 'writeSecret', level), secretOf(r.clientEvents, 'readSecret', level));
      }
      const hashLen = suite === TLS_AES_256_GCM_SHA384 ? 48 : 32;
      for (const ev of [...r.clientEvents, ...r.serverEvents]) {
        if (ev.kind === 'readSecret' || ev.kind === 'writeSecret') {
          assert.equal(ev.secret.length, hashLen);
          assert.equal(ev.suite.id, suite);
        }
      }
    });
  }

  it('server picks the first suite of the client list that it serves', () => {
    const r = runHandshake(
      clientConfig({ cipherSuites: [TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256] }),
      serverConfig({ cipherSuites: [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384] }),
    );
    assert.equal(r.error, undefined);
    assert.equal(r.server.suite?.id, TLS_AES_256_GCM_SHA384);
  });

  it('emits events in the order QUIC needs (RFC 9001 §4.1.4)', () => {
    const r = runHandshake(clientConfig(), serverConfig());
    assert.equal(r.error, undefined);
    assert.deepEqual(r.serverEvents.map(describe_), [
      'peerTransportParameters',
      'writeData(Initial)',
      'writeSecret(Handshake)',
      'readSecret(Handshake)',
      'writeData(Handshake)',
      'writeSecret(Application)',
      'readSecret(Application)',
      'handshakeDone',
    ]);
    assert.deepEqual(r.clientEvents.map(describe_), [
      'writeData(Initial)',
      'writeSecret(Handshake)',
      'readSecret(Handshake)',
      'peerTransportParameters',
      'writeData(Handshake)',
      'writeSecret(Application)',
      'readSecret(Application)',
      'handshakeDone',
    ]);
  });

  it('is reproducible with seeded randomness', () => {
    const a = runHandshake(clientConfig({}, 7), serverConfig({}, 8));
    const b = runHandshake(clientConfig({}, 7), serverConfig({}, 8));
    const bytes = (evs: TlsEvent[]): string[] => evs.map((e) => (e.kind === 'writeData' ? toHex(e.data) : e.kind));
    assert.deepEqual(bytes(a.clientEvents), bytes(b.clientEvents));
    assert.deepEqual(bytes(a.serverEvents), bytes(b.serverEvents));
  });

  it('completes with messages fed one byte at a time', () => {
    const r = runHandshake(clientConfig(), serverConfig(), { chunk: 1 });
    assert.equal(r.error, undefined);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
  });

  it('completes with chunks of 7 bytes', () => {
    const r = runHandshake(clientConfig({ cipherSuites: [TLS_AES_256_GCM_SHA384] }), serverConfig(), { chunk: 7 });
    assert.equal(r.error, undefined);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
  });

  it('does a HelloRetryRequest when the client sends no X25519 share', () => {
    for (const suite of [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384]) {
      const r = runHandshake(clientConfig({ initialKeyShares: [], cipherSuites: [suite] }), serverConfig());
      assert.equal(r.error, undefined, r.error?.alert.message);
      assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
      assert.deepEqual(r.clientEvents.map(describe_).slice(0, 3), ['writeData(Initial)', 'writeData(Initial)', 'writeSecret(Handshake)']);
      assert.deepEqual(r.serverEvents.map(describe_).slice(0, 3), ['writeData(Initial)', 'peerTransportParameters', 'writeData(Initial)']);
      assert.equal(secretOf(r.clientEvents, 'writeSecret', Level.Application), secretOf(r.serverEvents, 'readSecret', Level.Application));
    }
  });

  it('HelloRetryRequest handshake also works byte by byte', () => {
    const r = runHandshake(clientConfig({ initialKeyShares: [] }), serverConfig(), { chunk: 1 });
    assert.equal(r.error, undefined);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
  });

  it('works without client authentication when the server does not require it', () => {
    const r = runHandshake(clientConfig(), serverConfig({ requireClientAuth: false }));
    assert.equal(r.error, undefined, r.error?.alert.message);
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
    assert.equal(r.server.peerPublicKey, undefined);
  });

  it('calls keyLog with the four NSS labels and the client random', () => {
    const logs: Array<[string, string, string]> = [];
    const keyLog = (l: string, cr: Uint8Array, s: Uint8Array): void => void logs.push([l, toHex(cr), toHex(s)]);
    const slogs: Array<[string, string, string]> = [];
    const skeyLog = (l: string, cr: Uint8Array, s: Uint8Array): void => void slogs.push([l, toHex(cr), toHex(s)]);
    const r = runHandshake(clientConfig({ keyLog }), serverConfig({ keyLog: skeyLog }));
    assert.equal(r.error, undefined);
    assert.deepEqual(logs.map((l) => l[0]), [
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'SERVER_TRAFFIC_SECRET_0',
    ]);
    assert.deepEqual(slogs, logs);
    assert.equal(logs[0]![2], secretOf(r.clientEvents, 'writeSecret', Level.Handshake));
    const ch = r.clientEvents[0]!;
    assert.ok(ch.kind === 'writeData');
    assert.equal(logs[0]![1], toHex(ch.data.subarray(6, 38)));
  });

  it('accepts NewSessionTickets after the handshake and rejects KeyUpdate', async () => {
    const { encodeNewSessionTicket, encodeKeyUpdate } = await import('../../../src/tls/messages.js');
    const r = runHandshake(clientConfig(), serverConfig());
    const nst = encodeNewSessionTicket({
      lifetime: 86400, ageAdd: 7, nonce: new Uint8Array(32), ticket: new Uint8Array(32).fill(9),
      extensions: [{ type: 42, data: Uint8Array.of(0xff, 0xff, 0xff, 0xff) }],
    });
    r.client.handleData(Level.Application, nst.subarray(0, 10));
    assert.equal(r.client.pollEvent(), undefined);
    r.client.handleData(Level.Application, nst.subarray(10));
    const ev = r.client.pollEvent();
    assert.ok(ev?.kind === 'sessionTicket');
    assert.equal(ev.lifetime, 86400);
    assert.deepEqual(ev.ticket, new Uint8Array(32).fill(9));
    assert.throws(() => r.client.handleData(Level.Application, encodeKeyUpdate({ requestUpdate: 0 })), alertIs(Alert.unexpected_message));
    // The failure sticks.
    assert.throws(() => r.client.handleData(Level.Application, nst), alertIs(Alert.unexpected_message));
    assert.throws(() => r.server.handleData(Level.Application, nst), alertIs(Alert.unexpected_message));
  });

  it('rejects data at the wrong level with unexpected_message', () => {
    const c = new TlsClient(clientConfig());
    c.start();
    assert.throws(() => c.handleData(Level.Handshake, Uint8Array.of(8, 0, 0, 2, 0, 0)), alertIs(Alert.unexpected_message));
    const s = new TlsServer(serverConfig());
    assert.throws(() => s.handleData(Level.Application, Uint8Array.of(1)), alertIs(Alert.unexpected_message));
  });
});

describe('TLS handshake failures', () => {
  it('client dialling the wrong id: bad_certificate', () => {
    const f = expectFailure(clientConfig({ expectedPeerKey: CLIENT_KEY }), serverConfig());
    assert.deepEqual(f, { side: 'client', alert: Alert.bad_certificate });
  });

  it('a custom verifier refusing the peer', () => {
    const verifyPeer = (): Uint8Array => {
      throw new TlsAlert(Alert.access_denied, 'not on the list');
    };
    assert.deepEqual(expectFailure(clientConfig(), serverConfig({ verifyPeer })), { side: 'server', alert: Alert.access_denied });
  });

  it('no common ALPN: no_application_protocol', () => {
    const f = expectFailure(clientConfig({ alpnProtocols: ['other/1'] }), serverConfig());
    assert.deepEqual(f, { side: 'server', alert: Alert.no_application_protocol });
  });

  it('server picks the first client protocol it serves', () => {
    const r = runHandshake(clientConfig({ alpnProtocols: ['x/0', 'b', 'a'] }), serverConfig({ alpnProtocols: ['a', 'b'] }));
    assert.equal(r.error, undefined);
    assert.equal(r.client.alpn, 'b');
    assert.equal(r.server.alpn, 'b');
  });

  it('bad server CertificateVerify signature: decrypt_error', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'server' && level === Level.Handshake ? flipInMessage(data, 15, 10) : data),
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.decrypt_error });
  });

  it('bad client CertificateVerify signature: decrypt_error', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Handshake ? flipInMessage(data, 15, 10) : data),
    });
    assert.deepEqual(f, { side: 'server', alert: Alert.decrypt_error });
  });

  it('tampered server Finished: decrypt_error', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'server' && level === Level.Handshake ? flipInMessage(data, 20, 0) : data),
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.decrypt_error });
  });

  it('tampered client Finished: decrypt_error', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Handshake ? flipInMessage(data, 20, 5) : data),
    });
    assert.deepEqual(f, { side: 'server', alert: Alert.decrypt_error });
  });

  it('tampered ServerHello key share: the server signature no longer verifies (decrypt_error)', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'server' && level === Level.Initial ? flipInMessage(data, 2, 10) : data),
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.decrypt_error });
  });

  it('ClientHello without certificate-type extensions: handshake_failure', () => {
    // An X.509-mode client sends neither extension.
    const f = expectFailure(clientConfig({ certificateType: 'x509' }), serverConfig());
    assert.deepEqual(f, { side: 'server', alert: Alert.handshake_failure });
    for (const drop of [19, 20]) {
      const g = expectFailure(clientConfig(), serverConfig(), {
        tamper: (from, level, data) => (from === 'client' && level === Level.Initial ? dropExtension(data, drop) : data),
      });
      assert.deepEqual(g, { side: 'server', alert: Alert.handshake_failure }, `dropping ${drop}`);
    }
  });

  it('empty client Certificate when required: certificate_required', () => {
    // What a client without a certificate answers: an empty Certificate (RFC 9846 §4.4.2).
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Handshake ? Uint8Array.of(11, 0, 0, 4, 0, 0, 0, 0) : data),
    });
    assert.deepEqual(f, { side: 'server', alert: Alert.certificate_required });
  });

  it('missing transport parameters in QUIC mode: missing_extension (both directions)', () => {
    const noTp = clientConfig();
    const { transportParameters: _c, ...cNoTp } = noTp;
    assert.deepEqual(expectFailure(cNoTp, serverConfig()), { side: 'server', alert: Alert.missing_extension });
    const { transportParameters: _s, ...sNoTp } = serverConfig();
    assert.deepEqual(expectFailure(clientConfig(), sNoTp), { side: 'client', alert: Alert.missing_extension });
  });

  it('non-empty legacy_session_id in QUIC mode: illegal_parameter', () => {
    const f = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Initial ? withSessionId(data, 32) : data),
    });
    assert.deepEqual(f, { side: 'server', alert: Alert.illegal_parameter });
  });

  it('no common cipher suite: handshake_failure', () => {
    const f = expectFailure(clientConfig({ cipherSuites: [TLS_CHACHA20_POLY1305_SHA256] }), serverConfig({ cipherSuites: [TLS_AES_128_GCM_SHA256] }));
    assert.deepEqual(f, { side: 'server', alert: Alert.handshake_failure });
  });

  it('no common group (the client lists only P-384, which we do not share): handshake_failure', () => {
    const f = expectFailure(clientConfig({ initialKeyShares: [] }), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Initial ? replaceGroups(data, [0x0018]) : data),
    });
    assert.deepEqual(f, { side: 'server', alert: Alert.handshake_failure });
  });

  it('a second HelloRetryRequest: unexpected_message', () => {
    let hrr: Uint8Array | undefined;
    const f = expectFailure(clientConfig({ initialKeyShares: [] }), serverConfig(), {
      tamper: (from, level, data, i) => {
        if (from === 'server' && i === 1) hrr = data;
        // Replace the real ServerHello by the HelloRetryRequest again.
        if (from === 'server' && i === 3 && level === Level.Initial && hrr) return hrr;
        return data;
      },
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.unexpected_message });
  });

  it('HelloRetryRequest that changes nothing: illegal_parameter', () => {
    // The client already sent an X25519 share; an HRR asking for X25519 again changes nothing.
    let hrr: Uint8Array | undefined;
    runHandshake(clientConfig({ initialKeyShares: [] }), serverConfig(), {
      tamper: (from, _l, data, i) => {
        if (from === 'server' && i === 1) hrr = data;
        return data;
      },
    });
    assert.ok(hrr);
    const r = runHandshake(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'server' && level === Level.Initial ? hrr! : data),
    });
    assert.equal(r.error?.side, 'client');
    assert.equal(r.error?.alert.alert, Alert.illegal_parameter);
  });

  it('ALPN the client did not offer: illegal_parameter; none in QUIC mode: no_application_protocol', async () => {
    const { encodeAlpn } = await import('../../../src/tls/extensions.js');
    const { utf8 } = await import('../../../src/codec/bytes.js');
    // Server serves and answers "zz" because the ClientHello was rewritten to offer "zz".
    const f = expectFailure(clientConfig(), serverConfig({ alpnProtocols: ['zz'] }), {
      tamper: (from, level, data) =>
        from === 'client' && level === Level.Initial ? replaceExtension(data, 16, encodeAlpn([utf8('zz')])) : data,
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.illegal_parameter });
    const g = expectFailure(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => (from === 'client' && level === Level.Initial ? dropExtension(data, 16) : data),
    });
    assert.deepEqual(g, { side: 'server', alert: Alert.no_application_protocol });
  });

  it('a server Certificate that is not an Ed25519 SPKI: bad_certificate', () => {
    const f = expectFailure(clientConfig(), serverConfig({ cipherSuites: [TLS_AES_128_GCM_SHA256] }), {
      // The entry ends with the 44-byte SPKI then 2 bytes of extensions: 39 bytes from the end
      // is SPKI byte 6, inside the Ed25519 OID.
      tamper: (from, level, data) => (from === 'server' && level === Level.Handshake ? flipInMessage(data, 11, 39) : data),
    });
    assert.deepEqual(f, { side: 'client', alert: Alert.bad_certificate });
  });
});

describe('TLS engines never throw anything but TlsAlert (seeded property test)', () => {
  it('random and mutated handshake bytes', () => {
    const rnd = new SeededRandom(0x7e57);
    // Capture a real transcript of flights to mutate.
    const flights: Array<{ from: 'client' | 'server'; level: Level; data: Uint8Array }> = [];
    runHandshake(clientConfig(), serverConfig(), {
      tamper: (from, level, data) => {
        flights.push({ from, level, data });
        return data;
      },
    });
    assert.ok(flights.length >= 4);
    for (let iter = 0; iter < 300; iter++) {
      const r = runHandshake(clientConfig({}, iter), serverConfig({}, iter + 1000), {
        tamper: (_from, _level, data) => {
          if (rnd.int(3) !== 0) return data;
          const m = data.slice();
          const mode = rnd.int(4);
          if (mode === 0) {
            for (let k = 0; k <= rnd.int(4); k++) m[rnd.int(m.length)] = rnd.nextU32() & 0xff;
            return m;
          }
          if (mode === 1) return m.subarray(0, rnd.int(m.length));
          if (mode === 2) return rnd.fill(new Uint8Array(rnd.int(300)));
          return Uint8Array.from([...m, ...rnd.fill(new Uint8Array(rnd.int(20) + 1))]);
        },
        chunk: 1 + rnd.int(64),
      });
      if (r.error) assert.ok(r.error.alert instanceof TlsAlert);
    }
    // Pure noise at every level into fresh engines.
    for (let iter = 0; iter < 300; iter++) {
      const noise = rnd.fill(new Uint8Array(rnd.int(200)));
      if (rnd.int(2) === 0 && noise.length > 4) {
        noise[0] = [1, 2, 8, 11, 13, 15, 20, 4][rnd.int(8)]!;
        noise[1] = 0;
        noise[2] = 0;
        noise[3] = noise.length - 4;
      }
      const r = runHandshake(clientConfig(), serverConfig(), {
        tamper: (from, level, data, i) => (i === (iter % 4) ? noise : data),
      });
      if (r.error) assert.ok(r.error.alert instanceof TlsAlert);
    }
  });
});

function alertIs(alert: number): (e: unknown) => boolean {
  return (e) => e instanceof TlsAlert && e.alert === alert;
}

// --- in-flight rewriting helpers ---------------------------------------------------------------

/** Splits a flight into messages. */
function messages(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 4 <= data.length; ) {
    const len = (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
    out.push(data.subarray(i, i + 4 + len));
    i += 4 + len;
  }
  return out;
}

/** Flips one bit of the first message of `type` in a flight, `fromEnd` bytes before its end. */
function flipInMessage(data: Uint8Array, type: number, fromEnd: number): Uint8Array {
  const out = data.slice();
  let i = 0;
  for (const m of messages(data)) {
    if (m[0] === type) {
      out[i + m.length - 1 - fromEnd]! ^= 0x01;
      return out;
    }
    i += m.length;
  }
  throw new Error(`no message ${type} in flight`);
}

function withSessionId(data: Uint8Array, n: number): Uint8Array {
  const h = parseHello(data);
  h.sid = new Uint8Array(n).fill(0xaa);
  return buildHello(h);
}

function replaceGroups(data: Uint8Array, groups: number[]): Uint8Array {
  const list = groups.flatMap((g) => [g >> 8, g & 0xff]);
  return replaceExtension(data, 10, Uint8Array.from([0, list.length, ...list]));
}
