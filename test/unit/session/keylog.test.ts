import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../../src/codec/bytes.js';
import { Level, type TlsEvent } from '../../../src/tls/engine.js';
import { KEY_LOG_LABELS, KeyLogFile, formatKeyLogLine, keyLogger } from '../../../src/session/keylog.js';
import { clientConfig, runHandshake, serverConfig } from '../tls/helpers.js';

/** The secret of the first `kind` event at `level`. */
function secretOf(events: TlsEvent[], kind: 'readSecret' | 'writeSecret', level: Level): string {
  const ev = events.find((e) => e.kind === kind && e.level === level);
  assert.ok(ev && (ev.kind === 'readSecret' || ev.kind === 'writeSecret'), `no ${kind} at level ${level}`);
  return toHex(ev.secret);
}

/** The ClientHello random: after the 4-byte handshake header and legacy_version (RFC 9846 §4.1.2). */
function clientRandomOf(events: TlsEvent[]): string {
  const ev = events.find((e) => e.kind === 'writeData' && e.level === Level.Initial);
  assert.ok(ev && ev.kind === 'writeData');
  assert.equal(ev.data[0], 1, 'first flight is a ClientHello');
  return toHex(ev.data.subarray(6, 38));
}

const LINE = /^([A-Z_0-9]+) ([0-9a-f]{64}) ([0-9a-f]+)$/;

describe('session/keylog', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'quic-peer-keylog-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const suite of [0x1301, 0x1302, 0x1303]) {
    it(`logs the four secrets of a handshake, as the engines derived them (suite 0x${suite.toString(16)})`, () => {
      const cpath = join(dir, 'client.keys');
      const spath = join(dir, 'server.keys');
      const cf = new KeyLogFile(cpath);
      const sf = new KeyLogFile(spath);
      const r = runHandshake(
        clientConfig({ keyLog: cf.logger, cipherSuites: [suite] }),
        serverConfig({ keyLog: sf.logger }),
      );
      cf.close();
      sf.close();
      assert.equal(r.error, undefined);
      assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);

      const random = clientRandomOf(r.clientEvents);
      const ev = r.clientEvents;
      const expected = [
        `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${random} ${secretOf(ev, 'writeSecret', Level.Handshake)}`,
        `SERVER_HANDSHAKE_TRAFFIC_SECRET ${random} ${secretOf(ev, 'readSecret', Level.Handshake)}`,
        `CLIENT_TRAFFIC_SECRET_0 ${random} ${secretOf(ev, 'writeSecret', Level.Application)}`,
        `SERVER_TRAFFIC_SECRET_0 ${random} ${secretOf(ev, 'readSecret', Level.Application)}`,
      ];
      const clientText = readFileSync(cpath, 'utf8');
      assert.equal(clientText, expected.map((l) => `${l}\n`).join(''));
      // The server logs the same secrets under the same client random.
      assert.equal(readFileSync(spath, 'utf8'), clientText);
      // ... which are the server's own derived secrets too.
      const se = r.serverEvents;
      assert.equal(secretOf(se, 'readSecret', Level.Handshake), secretOf(ev, 'writeSecret', Level.Handshake));
      assert.equal(secretOf(se, 'writeSecret', Level.Application), secretOf(ev, 'readSecret', Level.Application));

      const hashLen = suite === 0x1302 ? 48 : 32;
      for (const line of clientText.trimEnd().split('\n')) {
        const m = LINE.exec(line);
        assert.ok(m, line);
        assert.ok((KEY_LOG_LABELS as readonly string[]).includes(m[1]!));
        assert.equal(m[3]!.length, 2 * hashLen);
      }
    });
  }

  it('creates the file with mode 0600 and appends to an existing file', () => {
    const path = join(dir, 'keys');
    const f = new KeyLogFile(path);
    assert.equal(statSync(path).mode & 0o077, 0, 'no access for group or others');
    assert.equal(statSync(path).mode & 0o600, 0o600);
    runHandshake(clientConfig({ keyLog: f.logger }), serverConfig());
    runHandshake(clientConfig({ keyLog: f.logger }, 5), serverConfig({}, 6));
    f.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 8);
    assert.deepEqual(lines.map((l) => l.split(' ')[0]), [...KEY_LOG_LABELS, ...KEY_LOG_LABELS]);
    assert.notEqual(lines[0]!.split(' ')[1], lines[4]!.split(' ')[1], 'two handshakes, two client randoms');

    writeFileSync(path, '# an existing file\n');
    const g = new KeyLogFile(path);
    g.log('CLIENT_TRAFFIC_SECRET_0', new Uint8Array(32), Uint8Array.of(0xab));
    g.close();
    assert.equal(readFileSync(path, 'utf8'), `# an existing file\nCLIENT_TRAFFIC_SECRET_0 ${'00'.repeat(32)} ab\n`);
  });

  it('drops lines after close, and close is idempotent', () => {
    const path = join(dir, 'keys');
    const f = new KeyLogFile(path);
    assert.ok(f.isOpen);
    f.close();
    f.close();
    assert.ok(!f.isOpen);
    f.log('CLIENT_TRAFFIC_SECRET_0', new Uint8Array(32), Uint8Array.of(1));
    assert.equal(readFileSync(path, 'utf8'), '');
    assert.equal(f.error, undefined);
  });

  it('a write error never reaches the TLS engine: it is kept and logging stops', function () {
    let f: KeyLogFile;
    try {
      f = new KeyLogFile('/dev/full'); // every write fails with ENOSPC
    } catch {
      this.skip();
    }
    const r = runHandshake(clientConfig({ keyLog: f.logger }), serverConfig());
    assert.equal(r.error, undefined);
    assert.ok(r.client.handshakeComplete);
    assert.ok(f.error);
    assert.match(f.error.message, /ENOSPC/);
    assert.ok(!f.isOpen);
  });

  it('the constructor throws when the file cannot be opened', () => {
    assert.throws(() => new KeyLogFile(join(dir, 'missing', 'keys')), /ENOENT/);
    assert.throws(() => new KeyLogFile(dir), /EISDIR/);
  });

  it('fromEnv reads SSLKEYLOGFILE (or another variable), undefined when unset or empty', () => {
    const path = join(dir, 'env.keys');
    assert.equal(KeyLogFile.fromEnv({}), undefined);
    assert.equal(KeyLogFile.fromEnv({ SSLKEYLOGFILE: '' }), undefined);
    const f = KeyLogFile.fromEnv({ SSLKEYLOGFILE: path });
    assert.ok(f);
    assert.equal(f.path, path);
    f.close();
    const g = KeyLogFile.fromEnv({ MY_KEYS: path }, 'MY_KEYS');
    assert.ok(g);
    g.close();
  });

  describe('formatKeyLogLine', () => {
    it('formats LABEL <client random> <secret> with lowercase hex and a newline', () => {
      const random = Uint8Array.from({ length: 32 }, (_, i) => 0xe0 + (i % 16));
      assert.equal(
        formatKeyLogLine('SERVER_HANDSHAKE_TRAFFIC_SECRET', random, Uint8Array.of(0x00, 0xff, 0x1a)),
        `SERVER_HANDSHAKE_TRAFFIC_SECRET ${toHex(random)} 00ff1a\n`,
      );
    });

    it('refuses what would corrupt the file', () => {
      const r = new Uint8Array(32);
      assert.throws(() => formatKeyLogLine('bad label', r, Uint8Array.of(1)), RangeError);
      assert.throws(() => formatKeyLogLine('', r, Uint8Array.of(1)), RangeError);
      assert.throws(() => formatKeyLogLine('X\nY', r, Uint8Array.of(1)), RangeError);
      assert.throws(() => formatKeyLogLine('X', new Uint8Array(31), Uint8Array.of(1)), RangeError);
      assert.throws(() => formatKeyLogLine('X', r, new Uint8Array(0)), RangeError);
    });

    it('keyLogger hands formatted lines to any sink', () => {
      const lines: string[] = [];
      runHandshake(clientConfig({ keyLog: keyLogger((l) => lines.push(l)) }), serverConfig());
      assert.deepEqual(lines.map((l) => l.split(' ')[0]), [...KEY_LOG_LABELS]);
      assert.ok(lines.every((l) => l.endsWith('\n') && LINE.test(l.trimEnd())));
    });
  });
});
