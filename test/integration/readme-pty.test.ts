import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EndpointId, formatSecretKeyFile } from '../../src/tls/identity.js';
import { SeededRandom } from '../../src/tls/random.js';

/**
 * The README's commands, typed into an interactive shell on a pseudo-terminal, as a user would:
 * `script` (util-linux) runs `bash -i` on a new pty, so the shell has job control and a background
 * job that reads the terminal is stopped (SIGTTIN), which is what hung the dumbpipe-style pair.
 * Every dial goes to 127.0.0.1; every wait is bounded.
 */

const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

/** An interactive bash on its own pseudo-terminal; what it prints accumulates in `output`. */
class Terminal {
  output = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(cwd: string, bin: string) {
    this.child = spawn('script', ['-qfec', 'bash --norc --noprofile -i', '/dev/null'], {
      cwd,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const take = (d: Buffer): void => void (this.output += d.toString());
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  /** Types `text` at the terminal (a line needs its '\n'; '\x03' is Ctrl-C). */
  type(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Waits until the output (from `from` on) matches `re`; fails with the output after `ms`. */
  async waitFor(re: RegExp, ms = 15_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms; the terminal shows:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

describe('the README commands in an interactive shell (pseudo-terminal)', function () {
  this.timeout(60_000);
  let dir: string;
  let bin: string;
  const terminals: Terminal[] = [];
  const data = Buffer.from(new SeededRandom(0x77).fill(new Uint8Array(300_000)));
  const terminal = (): Terminal => {
    const t = new Terminal(dir, bin);
    terminals.push(t);
    return t;
  };

  before(function () {
    for (const tool of ['script', 'bash']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
        console.log(`      (skipped: no ${tool})`);
        this.skip();
      }
    }
    dir = mkdtempSync(join(tmpdir(), 'qp-pty-'));
    bin = join(dir, 'bin');
    mkdirSync(bin);
    // `quic-peer` on the PATH, as after `npm install -g`.
    writeFileSync(join(bin, 'quic-peer'), `#!/bin/sh\nexec '${process.execPath}' '${main}' "$@"\n`);
    chmodSync(join(bin, 'quic-peer'), 0o755);
    writeFileSync(join(dir, 'file'), data);
  });
  afterEach(async () => {
    await Promise.all(terminals.splice(0).map((t) => t.close()));
    rmSync(join(dir, 'received'), { force: true });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the pair on one line: `quic-peer listen > received & quic-peer connect <id@ip:port> < file`', async () => {
    // A known id (--secret-file) and port (--bind) are what let the pair fit on one line.
    const secret = new SeededRandom(5).fill(new Uint8Array(32));
    writeFileSync(join(dir, 'key'), formatSecretKeyFile(secret));
    const id = EndpointId.fromSecretKey(secret).toString();
    const port = await freePort();
    const t = terminal();
    t.type(
      `quic-peer listen --secret-file key --bind 127.0.0.1:${port} > received & quic-peer connect ${id}@127.0.0.1:${port} < file; ` +
        `echo "connect exited $?"; wait; echo "listener exited $?"\n`,
    );
    assert.equal((await t.waitFor(/connect exited (\d+)/))[1], '0', t.output);
    assert.equal((await t.waitFor(/listener exited (\d+)/))[1], '0', t.output);
    assert.doesNotMatch(t.output, /Stopped/);
    assert.ok(readFileSync(join(dir, 'received')).equals(data), 'received holds the file byte for byte');
  });

  it('the pair as two commands, the listener as written (every interface), dialled at its 127.0.0.1 line', async () => {
    const t = terminal();
    t.type('quic-peer listen > received &\n');
    const [, target] = await t.waitFor(/listening ([0-9a-f]{64}@127\.0\.0\.1:\d+)/);
    t.type(`quic-peer connect ${target} < file; echo "connect exited $?"\n`);
    assert.equal((await t.waitFor(/connect exited (\d+)/))[1], '0', t.output);
    t.type('wait; echo "listener exited $?"\n');
    assert.equal((await t.waitFor(/listener exited (\d+)/))[1], '0', t.output);
    assert.match(t.output, /stdin is a terminal: receiving only/);
    assert.doesNotMatch(t.output, /Stopped/);
    assert.ok(readFileSync(join(dir, 'received')).equals(data));
  });

  it('`quic-peer listen --echo` and `quic-peer connect <ticket> < file > reply`; Ctrl-C stops the listener with 130', async () => {
    const a = terminal();
    a.type('quic-peer listen --echo --bind 127.0.0.1:0; echo "listen exited $?"\n');
    const [, ticket] = await a.waitFor(/ticket (endpoint[a-z2-7]+)/);
    const b = terminal();
    b.type(`quic-peer connect ${ticket} < file > reply; echo "connect exited $?"\n`);
    assert.equal((await b.waitFor(/connect exited (\d+)/))[1], '0', b.output);
    assert.ok(readFileSync(join(dir, 'reply')).equals(data), 'the echo came back byte for byte');
    await a.waitFor(/session 1 closed \(code 0: done\): received 300000 bytes, sent 300000 bytes/);
    a.type('\x03');
    await a.waitFor(/quic-peer: interrupted \(SIGINT\), sessions closed/);
    assert.equal((await a.waitFor(/listen exited (\d+)/))[1], '130', a.output);
  });

  it('Ctrl-C on an interactive connect: the session closes, the listener hears why, exit 130', async () => {
    const a = terminal();
    a.type('quic-peer listen --echo --bind 127.0.0.1:0\n');
    const [, target] = await a.waitFor(/listening ([0-9a-f]{64}@127\.0\.0\.1:\d+)/);
    const b = terminal();
    b.type(`quic-peer connect ${target}; echo "connect exited $?"\n`);
    await a.waitFor(/session 1 from/);
    const typed = b.output.length;
    b.type('hello over quic\n');
    // The terminal echoes the line as typed, then the echo server's copy arrives.
    await b.waitFor(/hello over quic[\s\S]*hello over quic/, 15_000, typed);
    b.type('\x03');
    assert.equal((await b.waitFor(/connect exited (\d+)/))[1], '130', b.output);
    await a.waitFor(/session 1 closed \(code 0: interrupted\): received 16 bytes, sent 16 bytes/);
  });
});

/** A UDP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
