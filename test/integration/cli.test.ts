import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../../src/tls/random.js';
import { decodeEndpointTicket } from '../../src/session/addressing.js';
import { Endpoint, Session } from '../../src/index.js';

/** The `quic-peer` command, run as a user would (compiled JavaScript, child processes, loopback UDP). */
const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

function run(args: string[], input?: Uint8Array): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { timeout: 60_000, ...(input ? { input } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Like `run`, without blocking the event loop (so other children's pipes keep flowing). */
function runAsync(args: string[], input?: Uint8Array): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin!.end(input ?? Buffer.alloc(0));
  });
}

interface Listener {
  child: ChildProcess;
  target: string;
  ticket: string;
  stdout: Buffer[];
  /** Everything the listener wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `quic-peer listen ...` on 127.0.0.1 and resolves with the child and the first `listening id@addr` line. */
async function listen(args: string[]): Promise<Listener> {
  const child = spawn(process.execPath, [main, 'listen', '--bind', '127.0.0.1:0', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => stdout.push(d));
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listen printed no address: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening (\S+)/.exec(err);
      const t = /ticket (\S+)/.exec(err);
      if (m && t) {
        clearTimeout(timer);
        resolve({ child, target: m[1]!, ticket: t[1]!, stdout, stderr: () => err, exited });
      }
    });
    child.on('exit', () => reject(new Error(`listen exited early: ${err}`)));
  });
}

/** Waits until `f()` holds, or fails after `ms` with `what`. */
async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('quic-peer command', function () {
  this.timeout(60_000);

  it('demo completes: handshake, echo round trips, datagrams, a transfer with a summary', () => {
    const r = run(['demo', '--bytes', '2000000', '--pings', '20', '--datagrams', '50']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(out, /handshake {6}[\d.]+ ms/);
    assert.match(out, /peer proved {2}[0-9a-f]{64}/);
    assert.match(out, /20 round trips of 64 bytes: p50 \d+ us/);
    assert.match(out, /datagrams {6}\d+\/50 echoed/);
    assert.match(out, /2\.0 MB each way in [\d.]+ s: \d+ Mbit\/s/);
    assert.match(out, /path MTU \d+ bytes/);
  });

  it('listen + connect pipe a 1 MB file byte for byte, both ways', async () => {
    const data = Buffer.from(new SeededRandom(9).fill(new Uint8Array(1_000_000)));
    const back = Buffer.from('reply from the listener\n');
    const l = await listen([]);
    l.child.stdin!.end(back);
    const exited = new Promise<number | null>((resolve) => l.child.on('exit', resolve));
    const c = await runAsync(['connect', l.target], data);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.stdout, back, 'the listener\'s stdin reached the dialer\'s stdout');
    assert.equal(await exited, 0);
    assert.ok(Buffer.concat(l.stdout).equals(data), 'the dialer\'s stdin reached the listener\'s stdout byte for byte');
  });

  it('listen --echo serves a connect by ticket', async () => {
    const l = await listen(['--echo']);
    try {
      const c = await runAsync(['connect', l.ticket], Buffer.from('hello echo'));
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout.toString(), 'hello echo');
    } finally {
      l.child.kill('SIGTERM');
    }
  });

  it('connect --session-cache keeps the server\'s tickets in a file (mode 0600), --early-data uses one for 0-RTT; a malformed file is exit 1 naming it', async () => {
    const l = await listen(['--echo']);
    const dir = mkdtempSync(join(tmpdir(), 'qp-cli-cache-'));
    try {
      const file = join(dir, 'sessions.json');
      // The third with --early-data: its stdin rides the first flight (0-RTT) with a cached ticket.
      for (const [msg, early] of [['one', false], ['two', false], ['three', true]] as const) {
        const c = await runAsync(['connect', '--session-cache', file, ...(early ? ['--early-data'] : []), l.ticket], Buffer.from(msg));
        assert.equal(c.code, 0, c.stderr);
        assert.equal(c.stdout.toString(), msg);
        // stderr says what the cache bought: the first connection has no ticket yet.
        const want = msg === 'one' ? /^full handshake \(no usable ticket\)\n$/ : early ? /^resumed the TLS session .*, early data accepted\n$/ : /^resumed the TLS session \(one round trip, no signatures\)\n$/;
        assert.match(c.stderr, want);
      }
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, { tickets: unknown[]; token?: string }> };
      const entries = Object.values(doc.servers);
      assert.equal(entries.length, 1);
      assert.ok(entries[0]!.tickets.length >= 1, 'tickets stored');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      writeFileSync(file, '{"nope":');
      const bad = await runAsync(['connect', '--session-cache', file, l.ticket], Buffer.from('x'));
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--session-cache .*sessions\.json/);
    } finally {
      l.child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connect to a dead port fails with one clear line and exit 1', () => {
    const r = run(['connect', '--timeout-ms', '300', `${'11'.repeat(32)}@127.0.0.1:9`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'quic-peer: no answer from 1111111111@127.0.0.1:9 within 300 ms: nothing is listening there, or the packets are lost\n');
  });

  it('exit 2 for every usage error, of every subcommand, with one line naming the problem', () => {
    const id = '11'.repeat(32);
    const cases: Array<[string[], RegExp]> = [
      [[], /^quic-peer: a command is needed\n\n/],
      [['listen', 'extra'], /^quic-peer: unexpected argument 'extra'\n$/],
      [['demo', 'extra'], /^quic-peer: unexpected argument 'extra'\n$/],
      [['connect'], /^quic-peer: expected one remote \(id@ip:port or a ticket\), got 0\n$/],
      [['connect', 'nonsense'], /^quic-peer: invalid remote: "nonsense" is neither/],
      [['connect', id], new RegExp(`^quic-peer: '${id}' names no address: give id@ip:port, a ticket, or the id with --relay URL\n$`)],
      [['connect', '--timeout-ms', '0', `${id}@127.0.0.1:9`], /^quic-peer: option '--timeout-ms' must be a positive integer, got '0'\n$/],
      [['listen', '--bind', 'localhost:0'], /^quic-peer: option '--bind' takes ip:port or \[ipv6\]:port \(port 0 = any\), got 'localhost:0'\n$/],
      [['connect', '--bind', '[::1]', `${id}@127.0.0.1:9`], /^quic-peer: option '--bind' takes ip:port/],
      [['demo', '--bind', '127.0.0.1:70000'], /^quic-peer: option '--bind' takes ip:port/],
      [['demo', '--nope'], /^quic-peer: unknown option '--nope'\n$/],
      [['listen', '--alpn', 'a'.repeat(256)], /^quic-peer: option '--alpn' takes at most 255 bytes, got 256\n$/],
      [['connect', '--alpn', 'é'.repeat(128), `${id}@127.0.0.1:9`], /^quic-peer: option '--alpn' takes at most 255 bytes, got 256\n$/],
    ];
    for (const [args, stderr] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, stderr, args.join(' '));
    }
  });

  it('exit 1 for a failure while running; a file error names the option and the file, in words', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-'));
    const held = createSocket('udp4');
    try {
      const missing = join(dir, 'no', 'such');
      const file = join(dir, 'file');
      writeFileSync(file, 'x');
      await new Promise<void>((resolve) => held.bind(0, '127.0.0.1', resolve));
      const busy = `127.0.0.1:${held.address().port}`;
      const cases: Array<[string[], string]> = [
        [['listen', '--secret-file', missing], `--secret-file ${missing}: cannot create: no such file or directory (ENOENT)`],
        [['connect', '--secret-file', dir, `${'11'.repeat(32)}@127.0.0.1:9`], `--secret-file ${dir}: cannot read: illegal operation on a directory (EISDIR)`],
        [['listen', '--keylog', missing], `--keylog ${missing}: cannot open for appending: no such file or directory (ENOENT)`],
        [['listen', '--qlog', join(file, 'sub')], `--qlog ${join(file, 'sub')}: cannot create the directory: not a directory (ENOTDIR)`],
        [['listen', '--bind', busy], `--bind ${busy}: cannot bind: address already in use (EADDRINUSE)`],
        [['demo', '--bind', busy], `--bind ${busy}: cannot bind: address already in use (EADDRINUSE)`],
      ];
      for (const [args, line] of cases) {
        const r = await runAsync(args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, `quic-peer: ${line}\n`);
      }
    } finally {
      held.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('listen on every interface prints and tickets only addresses a peer can dial (no 0.0.0.0, ::, fe80:: without a zone)', async () => {
    const child = spawn(process.execPath, [main, 'listen', '--echo', '--bind', '0.0.0.0:0', '--bind', '[::]:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(() => /^ticket /m.test(err) || child.exitCode !== null, 10_000, 'listen prints its ticket');
      const listed = [...err.matchAll(/^listening [0-9a-f]{64}@(\S+)$/gm)].map((m) => m[1]!);
      const ticket = decodeEndpointTicket(/^ticket (\S+)$/m.exec(err)![1]!);
      assert.ok(listed.length > 0, err);
      assert.deepEqual([...ticket.addrs].sort(), [...listed].sort());
      for (const a of listed) assert.doesNotMatch(a, /^0\.0\.0\.0:|^\[::\]:|^\[fe[89ab][0-9a-f]:/i, err);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 143);
  });

  it('demo interrupted mid-transfer (SIGINT) closes its endpoints and exits 130, nothing else on stderr', async () => {
    const child = spawn(process.execPath, [main, 'demo', '--bytes', '4000000000', '--pings', '2', '--datagrams', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(() => /^transfer /m.test(out), 20_000, 'the transfer starts');
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGINT');
      assert.equal(await exited, 130, err);
      assert.equal(err, 'quic-peer: interrupted (SIGINT), sessions closed\n');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--version prints the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(fileURLToPath(import.meta.url), '../../../../package.json'), 'utf8')) as { version: string };
    const r = run(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString(), `quic-peer ${pkg.version}\n`);
  });

  it('connect --bind binds where it is told (the listener logs the dialer from that address)', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const l = await listen(['--echo']);
    try {
      const c = await runAsync(['connect', '--bind', `127.0.0.1:${port}`, l.target], Buffer.from('hi'));
      assert.equal(c.code, 0, c.stderr);
      await until(() => /session 1 closed/.test(l.stderr()), 5_000, 'the listener logs the end of the session');
      assert.match(l.stderr(), new RegExp(`session 1 from [0-9a-f]{64}@127\\.0\\.0\\.1:${port} \\(ALPN iroh-http/2-duplex\\)`));
    } finally {
      l.child.kill('SIGTERM');
    }
  });

  it('demo --bind [::1]:0 runs over IPv6 loopback', function () {
    const r = run(['demo', '--bind', '[::1]:0', '--bytes', '100000', '--pings', '2', '--datagrams', '2']);
    if (r.code !== 0 && /--bind \[::1\]:0: cannot bind/.test(r.stderr)) this.skip();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^quic-peer demo \(UDP on \[::1\]:0, one process\)\n {2}listener {2}[0-9a-f]{64}@\[::1\]:\d+\n/);
  });

  it('listen logs each session on stderr: who, ALPN, and the bytes each way when it ends', async () => {
    const data = Buffer.from(new SeededRandom(3).fill(new Uint8Array(100_000)));
    const l = await listen([]);
    l.child.stdin!.end('reply\n');
    const c = await runAsync(['connect', l.target], data);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(await l.exited, 0);
    const lines = l.stderr().split('\n');
    assert.match(lines.find((x) => x.startsWith('session 1 from')) ?? '', /^session 1 from [0-9a-f]{64}@127\.0\.0\.1:\d+ \(ALPN iroh-http\/2-duplex\)$/);
    assert.ok(lines.includes('session 1 closed (code 0: done): received 100000 bytes, sent 6 bytes'), l.stderr());

    const e = await listen(['--echo']);
    try {
      for (const msg of ['one', 'three']) {
        const r = await runAsync(['connect', e.target], Buffer.from(msg));
        assert.equal(r.code, 0, r.stderr);
      }
      await until(() => /session 2 closed/.test(e.stderr()), 5_000, 'the echo listener logs the end of session 2');
      assert.match(e.stderr(), /session 1 closed \(code 0: done\): received 3 bytes, sent 3 bytes/);
      assert.match(e.stderr(), /session 2 from [0-9a-f]{64}@127\.0\.0\.1:\d+ \(ALPN iroh-http\/2-duplex\)\n/);
      assert.match(e.stderr(), /session 2 closed \(code 0: done\): received 5 bytes, sent 5 bytes/);
    } finally {
      e.child.kill('SIGTERM');
    }
  });

  it('listen leaves the close to its dialer once both sides are done (closing first raced the dialer\'s wait for its ACK)', async () => {
    const l = await listen([]);
    l.child.stdin!.end();
    const ep = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const s = await Session.connect(ep, l.ticket);
      const { readable, writable } = await s.createBidirectionalStream();
      const w = writable.getWriter();
      await w.write(new Uint8Array(50_000));
      await w.close();
      for await (const _ of readable as unknown as AsyncIterable<Uint8Array>) void _;
      // Both sides are done; the listener waits for us rather than closing first.
      await new Promise((r) => setTimeout(r, 300));
      s.close({ closeCode: 0, reason: 'dialer closes' });
      assert.equal(await l.exited, 0, l.stderr());
      assert.match(l.stderr(), /session 1 closed \(code 0: dialer closes\): received 50000 bytes, sent 0 bytes/);
    } finally {
      await ep.close();
    }
  });

  it('Ctrl-C (SIGINT) closes the sessions first, then exits 130; SIGTERM 143; the peer sees why', async () => {
    // The listener interrupted: its dialer, still sending, hears 'interrupted'.
    const l = await listen(['--echo']);
    const dialer = spawn(process.execPath, [main, 'connect', l.target], { stdio: ['pipe', 'pipe', 'pipe'] });
    let dialerErr = '';
    let dialerOut = '';
    dialer.stderr!.on('data', (d: Buffer) => (dialerErr += d.toString()));
    dialer.stdout!.on('data', (d: Buffer) => (dialerOut += d.toString()));
    const dialerExit = new Promise<number | null>((resolve) => dialer.on('exit', resolve));
    dialer.stdin!.write('still typing');
    await until(() => dialerOut === 'still typing', 5_000, 'the echo comes back');
    l.child.kill('SIGINT');
    assert.equal(await l.exited, 130, l.stderr());
    assert.match(l.stderr(), /session 1 closed \(code 0: interrupted\): received 12 bytes, sent 12 bytes\nquic-peer: interrupted \(SIGINT\), sessions closed\n$/);
    assert.equal(await dialerExit, 1);
    assert.equal(dialerErr, 'quic-peer: the session closed before the transfer completed (code 0: interrupted)\n');
    assert.equal(dialerErr.split('\n').length, 2, dialerErr);

    // The dialer interrupted while waiting on its stdin: the listener logs 'interrupted'.
    const e = await listen(['--echo']);
    try {
      const d = spawn(process.execPath, [main, 'connect', e.target], { stdio: ['pipe', 'pipe', 'pipe'] });
      let err = '';
      d.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exit = new Promise<number | null>((resolve) => d.on('exit', resolve));
      await until(() => /session 1 from/.test(e.stderr()), 5_000, 'the session starts');
      d.kill('SIGINT');
      assert.equal(await exit, 130, err);
      assert.equal(err, 'quic-peer: interrupted (SIGINT), sessions closed\n');
      await until(() => /session 1 closed/.test(e.stderr()), 5_000, 'the listener sees the close');
      assert.match(e.stderr(), /session 1 closed \(code 0: interrupted\)/);
    } finally {
      e.child.kill('SIGTERM');
    }
    assert.equal(await e.exited, 143);
  });

  it('--help on every subcommand; bad input exits 2 with a reason', () => {
    for (const sub of [[], ['demo'], ['listen'], ['connect']]) {
      const h = run([...sub, '--help']);
      assert.equal(h.code, 0, sub.join(' '));
      assert.match(h.stdout.toString(), /Usage:/);
    }
    const bad = run(['frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'frobnicate'/);
    const badArg = run(['demo', '--bytes', 'many']);
    assert.equal(badArg.code, 2);
    assert.match(badArg.stderr, /'--bytes' must be a positive integer/);
    const badOpt = run(['listen', '--nope']);
    assert.equal(badOpt.code, 2);
    assert.match(badOpt.stderr, /unknown option '--nope'/);
  });

  it('--secret-file keeps the id across runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-'));
    try {
      const f = join(dir, 'key');
      const a = await listen(['--echo', '--secret-file', f]);
      a.child.kill('SIGTERM');
      const b = await listen(['--echo', '--secret-file', f]);
      b.child.kill('SIGTERM');
      assert.equal(a.target.split('@')[0], b.target.split('@')[0]);
      assert.match(readFileSync(f, 'utf8'), /^[0-9a-f]{64}\n$/);
      writeFileSync(f, 'garbage');
      const r = run(['listen', '--secret-file', f]);
      assert.equal(r.code, 1, 'a bad file is a failure, not a usage error');
      assert.equal(r.stderr, `quic-peer: --secret-file ${f}: not a secret key file: invalid secret key: expected 64 hex digits, got 7 characters\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
