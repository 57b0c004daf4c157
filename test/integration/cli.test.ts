import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../../src/tls/random.js';

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

/** Starts `quic-peer listen ...` and resolves with the child and the first `listening id@addr` line. */
async function listen(args: string[]): Promise<{ child: ChildProcess; target: string; ticket: string; stdout: Buffer[] }> {
  const child = spawn(process.execPath, [main, 'listen', '--bind', '127.0.0.1:0', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => stdout.push(d));
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listen printed no address: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening (\S+)/.exec(err);
      const t = /ticket (\S+)/.exec(err);
      if (m && t) {
        clearTimeout(timer);
        resolve({ child, target: m[1]!, ticket: t[1]!, stdout });
      }
    });
    child.on('exit', () => reject(new Error(`listen exited early: ${err}`)));
  });
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

  it('connect fails with a one-line reason and a non-zero exit', () => {
    const r = run(['connect', '--timeout-ms', '300', `${'11'.repeat(32)}@127.0.0.1:9`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^quic-peer: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
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
      assert.equal(r.code, 2);
      assert.match(r.stderr, /secret file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
