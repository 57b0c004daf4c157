import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SeededRandom } from '../../src/tls/random.js';
import type { IrohDialResult, IrohEvent, IrohReady } from './iroh.js';
import { irohNodeScript, runScenario } from './iroh.js';
import type { IsolationStatus } from './netns.js';
import {
  canIsolate,
  isolatedCommand,
  isolationDecision,
  isolationStatus,
  parseProcNetDev,
  parseRouteV4,
  parseRouteV6,
  requireIsolation,
  runIsolated,
} from './netns.js';

/**
 * The interop harness itself: loopback-only namespaces (netns.ts), the iroh node program
 * (iroh-node.cjs) and the scenario runner (iroh.ts), proven with two real iroh nodes.
 */

// Shapes of /proc files as seen on a host (eth0 + default route) and inside `unshare -rn` with lo up.
const HOST_DEV =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
  '    lo:  1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n' +
  '  eth0: 99999     999    0    0    0     0          0         0    88888     888    0    0    0     0       0          0\n';
const HOST_ROUTE =
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
const NS_ROUTE = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
const NS_ROUTE6 =
  '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n' +
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n';
const HOST_ROUTE6 =
  NS_ROUTE6 +
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n';

describe('interop harness: isolation policy and parsing', () => {
  it('skips locally and fails in CI when a namespace cannot be made', () => {
    assert.equal(isolationDecision(true, {}), 'run');
    assert.equal(isolationDecision(true, { CI: 'true' }), 'run');
    assert.equal(isolationDecision(false, {}), 'skip');
    assert.equal(isolationDecision(false, { CI: 'false' }), 'skip');
    assert.equal(isolationDecision(false, { CI: 'true' }), 'fail');
  });

  it('wraps a command in unshare -rn with loopback brought up, arguments never re-parsed', () => {
    const argv = isolatedCommand(['node', 'x.js', 'a b', '$HOME']);
    assert.deepEqual(argv.slice(0, 5), ['unshare', '-rn', 'sh', '-c', 'ip link set lo up && exec "$@"']);
    assert.deepEqual(argv.slice(6), ['node', 'x.js', 'a b', '$HOME']);
    assert.throws(() => isolatedCommand([]), /empty command/);
  });

  it('reads interfaces and route devices from /proc/net', () => {
    assert.deepEqual(parseProcNetDev(HOST_DEV), ['lo', 'eth0']);
    assert.deepEqual(parseRouteV4(HOST_ROUTE), ['eth0', 'eth0']);
    assert.deepEqual(parseRouteV4(NS_ROUTE), []);
    // Inside a fresh namespace the IPv6 table holds only lo entries (::1 and the unreachable default).
    assert.deepEqual(parseRouteV6(NS_ROUTE6), ['lo', 'lo']);
    assert.deepEqual(parseRouteV6(HOST_ROUTE6), ['lo', 'lo', 'eth0']);
  });
});

describe('interop harness: loopback-only namespaces', function () {
  this.timeout(30_000);
  before(async function () {
    await requireIsolation(this);
  });

  it('canIsolate() is true on this machine', async () => {
    assert.equal(await canIsolate(), true);
  });

  it('inside the namespace only lo exists, and iroh-node.cjs agrees', async () => {
    const { result } = await runScenario<{ status: IsolationStatus; nodeCheck: IrohEvent | null; nodeCheckExit: number }>(
      new URL('./scenarios/isolation.js', import.meta.url),
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(result.status.interfaces, ['lo']);
    assert.deepEqual(result.status.addressed, ['lo']);
    assert.equal(result.status.foreignRoutes, 0);
    assert.equal(result.status.loopbackUp, true);
    assert.deepEqual(result.status.problems, []);
    assert.equal(result.status.isolated, true);
    assert.deepEqual(result.nodeCheck, { isolated: true, problems: [] });
    assert.equal(result.nodeCheckExit, 0);
  });

  it("iroh-node.cjs's self-check agrees with netns.ts outside the namespace too", () => {
    // `check` never loads iroh, so running it here, in the host namespace, is safe.
    const r = spawnSync(process.execPath, [irohNodeScript(), 'check'], { encoding: 'utf8', timeout: 10_000 });
    const node = JSON.parse(r.stdout) as { isolated: boolean; problems: string[] };
    const here = isolationStatus();
    assert.equal(node.isolated, here.isolated);
    assert.equal(r.status, here.isolated ? 0 : 3);
    assert.equal(node.problems.length > 0, here.problems.length > 0);
  });

  it('runIsolated passes stdin, stdout, stderr and the exit code', async () => {
    const r = await runIsolated(['sh', '-c', 'cat; echo oops >&2; exit 5'], { timeoutMs: 10_000, input: 'abc' });
    assert.deepEqual(r, { code: 5, signal: null, stdout: 'abc', stderr: 'oops\n', timedOut: false });
  });

  it('runIsolated kills the whole process group on timeout', async () => {
    const t0 = performance.now();
    const r = await runIsolated(['sh', '-c', 'sleep 60 & echo $!; wait'], { timeoutMs: 500 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(performance.now() - t0 < 10_000);
    const grandchild = Number(r.stdout.trim());
    assert.ok(Number.isSafeInteger(grandchild) && grandchild > 1, `pid: ${r.stdout}`);
    assert.equal(await gone(grandchild, 3000), true, `background process ${grandchild} survived the timeout`);
  });
});

describe('interop harness: two real iroh nodes (@number0/iroh) in one namespace', function () {
  this.timeout(45_000);
  before(async function () {
    await requireIsolation(this);
  });

  it('echoes a 64 KiB random payload byte for byte over a bidi stream', async () => {
    const payload = new SeededRandom(0x1205).fill(new Uint8Array(64 * 1024));
    const alpn = 'quic-peer/interop-echo';
    const { result } = await runScenario<{
      isolation: IsolationStatus;
      server: IrohReady;
      dial: IrohDialResult | null;
      dialExit: number | null;
      dialStderr: string;
      serverEvents: IrohEvent[];
      serverExit: number | null;
    }>(new URL('./scenarios/iroh-echo.js', import.meta.url), { args: [alpn], input: payload, timeoutMs: 30_000 });

    assert.equal(result.isolation.isolated, true);
    const { server, dial } = result;
    assert.match(server.id, /^[0-9a-f]{64}$/);
    assert.ok(server.addrs.some((a) => /^127\.0\.0\.1:\d+$/.test(a)), `addrs: ${server.addrs.join(', ')}`);
    assert.ok(server.sockets.some((a) => /^\[::\]:\d+$/.test(a)), 'iroh keeps its [::]:0 socket bound too');
    assert.deepEqual(server.alpns, [alpn]);
    // The ticket's postcard payload starts with variant 0 and the 32-byte id (IROH.md, Addressing).
    assert.ok(server.ticket.startsWith('endpoint'));
    const ticket = base32Decode(server.ticket.slice('endpoint'.length));
    assert.equal(ticket[0], 0);
    assert.equal(Buffer.from(ticket.subarray(1, 33)).toString('hex'), server.id);

    assert.ok(dial !== null, `no dial result; stderr: ${result.dialStderr}`);
    assert.equal(dial.error, undefined);
    assert.equal(result.dialExit, 0);
    assert.equal(dial.ok, true);
    assert.equal(dial.remoteId, server.id);
    assert.equal(dial.sentBytes, payload.length);
    assert.equal(dial.echoBytes, payload.length);
    assert.equal(dial.echoHex, Buffer.from(payload).toString('hex'), 'echo differs from the payload');

    const accepted = result.serverEvents.find((e) => e.event === 'accepted');
    assert.equal(accepted?.['remoteId'], dial.localId);
    assert.equal(accepted?.['alpn'], alpn);
    assert.ok(result.serverEvents.some((e) => e.event === 'bi' && e['bytes'] === payload.length));
    const closed = result.serverEvents.find((e) => e.event === 'closed');
    assert.match(String(closed?.['reason']), /done.*code 7/);
    assert.equal(result.serverExit, 0);
  });
});

/** Polls until `pid` no longer exists (true) or `ms` passes (false). */
async function gone(pid: number, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    // A killed process lingers as a zombie until reaped: /proc/PID/stat state 'Z' counts as gone.
    let stat = '';
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return true;
    }
    if (/^\d+ \(.*\) Z/.test(stat)) return true;
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** RFC 4648 base32, lowercase, no padding (iroh tickets). */
function base32Decode(s: string): Uint8Array {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of s) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
