import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { decodeEndpointTicket, encodeEndpointTicket } from '../../src/session/addressing.js';
import { SeededRandom } from '../../src/tls/random.js';
import { describePath, pathChanges } from '../../src/cli/path-log.js';
import { within } from './util.js';
import { CLI_MAIN as main, sha256Hex as sha, startCli as start, untilValue as until } from './cli-process.js';

/**
 * Issue #16: multipath and iroh's NAT traversal are on by default in the command too, and a user
 * sees a session move from its relay to a direct path on stderr; `--no-multipath` turns both off.
 * Three processes on loopback: `quic-peer relay`, `listen --relay URL`, and `connect` with the
 * listener's ticket stripped of its direct addresses, so the session starts on the relay.
 */


describe('quic-peer: multipath on by default, path changes on stderr, --no-multipath (issue #16)', function () {
  this.timeout(60_000);
  const children: ChildProcess[] = [];
  let relay: ReturnType<typeof start>;
  let url = '';

  before(async () => {
    relay = start(['relay', '--bind', '127.0.0.1:0']);
    children.push(relay.child);
    url = await until(() => /(http:\/\/\S+)/.exec(Buffer.concat(relay.out).toString())?.[1], 10_000, 'relay prints its URL');
  });
  after(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  /**
   * listen --relay, then connect to its relay-only ticket; `up` goes to the listener in two parts:
   * the first, then (once `between` resolves, given both sides' stderr so far) the rest and EOF.
   */
  async function pair(up: Uint8Array, listenArgs: string[], connectArgs: string[], between?: (dialerErr: () => string, listenerErr: () => string) => Promise<void>) {
    const listener = start(['listen', '--bind', '127.0.0.1:0', '--relay', url, ...listenArgs]);
    children.push(listener.child);
    const ticketText = await until(() => /^ticket (\S+)$/m.exec(listener.err())?.[1], 10_000, 'listen prints its ticket');
    const listenPort = /^listening [0-9a-f]{64}@127\.0\.0\.1:(\d+)$/m.exec(listener.err())![1]!;
    listener.child.stdin!.end();
    const ticket = decodeEndpointTicket(ticketText);
    const relayOnly = encodeEndpointTicket({ id: ticket.id, addrs: [], relays: ticket.relays ?? [] });
    const dialer = start(['connect', '--bind', '127.0.0.1:0', '--timeout-ms', '15000', ...connectArgs, relayOnly]);
    children.push(dialer.child);
    const half = Math.floor(up.length / 2);
    dialer.child.stdin!.write(up.subarray(0, half));
    await between?.(dialer.err, listener.err);
    dialer.child.stdin!.end(up.subarray(half));
    const [dialCode, listenCode] = await within(Promise.all([dialer.exited, listener.exited]), 40_000, 'the pair');
    assert.equal(dialCode, 0, dialer.err());
    assert.equal(listenCode, 0, listener.err());
    assert.equal(sha(Buffer.concat(listener.out)), sha(up), 'connect -> listen byte-exact');
    assert.match(listener.err(), /^session 1 from [0-9a-f]{64}@relay:[0-9a-f]{64}@http/m, 'the session started on the relay');
    return { listener: listener.err(), dialer: dialer.err(), listenPort };
  }

  it('by default a session that starts on the relay opens a direct path, and both sides say so on stderr', async () => {
    const up = new SeededRandom(30).fill(new Uint8Array(1024 * 1024));
    // The session stays open (half of the data sent) until both sides printed the direct path.
    // Which path then carries the data is the scheduler's choice, by smoothed RTT: on loopback
    // our relay's RTT is about a direct path's, so either may win, and a side may switch back and
    // forth (a path is 'selected' only with an RTT sample of its own).
    const direct = (prefix: string): RegExp => new RegExp(`^${prefix}path [1-9]\\d* direct 127\\.0\\.0\\.1:\\d+ (selected|available)$`, 'm');
    const r = await pair(up, [], [], async (dialerErr, listenerErr) => {
      await until(() => (direct('').test(dialerErr()) && direct('session 1 ').test(listenerErr()) ? true : undefined), 15_000, 'both sides print a direct path').catch((e: Error) => {
        throw new Error(`${e.message}\n--- connect:\n${dialerErr()}--- listen:\n${listenerErr()}`);
      });
    });
    // The dialer's direct path goes to the listener's address (its ADD_ADDRESS).
    assert.match(r.dialer, new RegExp(`^path [1-9]\\d* direct 127\\.0\\.0\\.1:${r.listenPort} (selected|available)$`, 'm'), r.dialer);
    // Nothing else goes to stderr but path lines on the dialer's side.
    for (const line of r.dialer.trim().split('\n')) assert.match(line, /^path \d+ (relay|direct) \S+ (selected|available|backup|validating)$|^path \d+ closed$/, line);
  });

  it('--no-multipath (on either side) keeps the session on the relay: no path line', async () => {
    const up = new SeededRandom(31).fill(new Uint8Array(256 * 1024));
    for (const [listenArgs, connectArgs] of [
      [[], ['--no-multipath']],
      [['--no-multipath'], []],
    ] as const) {
      const r = await pair(up, [...listenArgs], [...connectArgs]);
      assert.equal(r.dialer, '', `connect ${connectArgs.join(' ')}: nothing on stderr`);
      assert.doesNotMatch(r.listener, /path/, r.listener);
    }
  });

  it('--no-multipath is an option of every subcommand that makes connections, and only of those', () => {
    for (const cmd of ['connect', 'listen', 'serve', 'get', 'demo']) {
      const r = spawnSync(process.execPath, [main, cmd, '--help'], { timeout: 20_000 });
      assert.match(r.stdout.toString(), /--no-multipath +offer neither multipath nor iroh's NAT traversal/, cmd);
    }
    const r = spawnSync(process.execPath, [main, 'relay', '--no-multipath'], { timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr.toString(), /unknown option '--no-multipath'/);
  });

  it('the path log says what changed: a new or changed path, one gone', () => {
    const relayPath = { id: 0, kind: 'relay', remoteAddress: 'relay:ab@http://127.0.0.1:3340/', rttMs: 2, status: 'available' } as const;
    const direct = { id: 1, kind: 'direct', remoteAddress: '127.0.0.1:4433', rttMs: 1, status: 'validating', selected: false } as const;
    assert.equal(describePath({ ...relayPath, selected: true }), 'path 0 relay relay:ab@http://127.0.0.1:3340/ selected');
    assert.equal(describePath(direct), 'path 1 direct 127.0.0.1:4433 validating');
    const snap = (...ps: Array<Parameters<typeof describePath>[0]>): Map<number, string> => new Map(ps.map((p) => [p.id, describePath(p)]));
    const t0 = snap({ ...relayPath, selected: true });
    const t1 = snap({ ...relayPath, selected: true }, direct);
    const t2 = snap({ ...relayPath, selected: false }, { ...direct, status: 'available', selected: true });
    const t3 = snap({ ...direct, status: 'available', selected: true });
    assert.deepEqual(pathChanges(t0, t0), []);
    assert.deepEqual(pathChanges(t0, t1), ['path 1 direct 127.0.0.1:4433 validating']);
    assert.deepEqual(pathChanges(t1, t2), ['path 0 relay relay:ab@http://127.0.0.1:3340/ available', 'path 1 direct 127.0.0.1:4433 selected']);
    assert.deepEqual(pathChanges(t2, t3), ['path 0 closed']);
  });
});
