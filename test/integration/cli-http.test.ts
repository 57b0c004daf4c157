/**
 * `quic-peer serve` and `quic-peer get`, run as a user would (compiled CLI, child processes,
 * loopback UDP): CA-verified, insecure and self-signed dials, h3 and hq-interop, one line per file
 * and a summary, exit 1 with the failing file named, usage errors naming the option (exit 2).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCertificate } from '../../src/index.js';

const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

/** Starts `quic-peer serve` and resolves with its port once it prints where it serves. */
function serve(args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [main, 'serve', '--bind', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no address: ${err}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving .* on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), stderr: () => err });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('quic-peer serve / get (X.509, h3 and hq-interop)', function () {
  this.timeout(60_000);
  let dir: string;
  let www: string;
  let out: string;
  const files: Record<string, Uint8Array> = { 'a.bin': new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff), 'b.txt': new TextEncoder().encode('hello\n') };
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qp-cli-http-'));
    www = join(dir, 'www');
    out = join(dir, 'out');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(www);
    for (const [n, b] of Object.entries(files)) writeFileSync(join(www, n), b);
    const ca = await generateCertificate({ names: ['test CA'], ca: true });
    const leaf = await generateCertificate({ names: ['localhost', '127.0.0.1'], issuer: { cert: ca.cert, key: ca.key } });
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'cert.pem'), leaf.cert);
    writeFileSync(join(dir, 'key.pem'), leaf.key);
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve with a CA-signed certificate; get verifies it with --ca, over h3 and hq-interop', async () => {
    const s = await serve(['--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), www]);
    children.push(s.child);
    for (const alpn of ['h3', 'hq-interop']) {
      const o = join(out, alpn);
      const r = await run(['get', '--ca', join(dir, 'ca.pem'), '--alpn', alpn, '--out', o, `https://localhost:${s.port}/a.bin`, `https://localhost:${s.port}/b.txt`]);
      assert.equal(r.code, 0, r.stderr);
      for (const [n, b] of Object.entries(files)) assert.equal(sha(readFileSync(join(o, n))), sha(b), `${alpn} ${n}`);
      assert.match(r.stdout, /a\.bin, 300000 bytes, sha256 /);
      assert.match(r.stdout, /^2 of 2 file\(s\), 300006 bytes in [0-9.]+ s$/m);
    }
    assert.match(s.stderr(), /h3 GET \/a\.bin -> 200, 300000 bytes/);
    assert.match(s.stderr(), /hq-interop GET \/b\.txt -> 200, 6 bytes/);
    // A missing file: exit 1, the URL named, the other file still saved.
    const r = await run(['get', '--ca', join(dir, 'ca.pem'), '--out', join(out, 'miss'), `https://localhost:${s.port}/nope`, `https://localhost:${s.port}/b.txt`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/nope: HTTP status 404/);
    assert.match(r.stderr, /1 of 2 file\(s\) failed/);
    assert.match(r.stdout, /^1 of 2 file\(s\)/m);
    // Without the CA the system roots do not know it: exit 1, an authentication failure.
    const bad = await run(['get', '--out', join(out, 'bad'), `https://localhost:${s.port}/b.txt`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /b\.txt: .*(certificate|authentication|trust)/i);
    s.child.kill('SIGINT');
  });

  it('serve --self-signed; get --insecure fetches from it', async () => {
    const s = await serve(['--self-signed', '--alpn', 'h3', www]);
    children.push(s.child);
    assert.match(s.stderr(), /self-signed certificate for localhost, 127\.0\.0\.1, ::1; pin: sha256\//);
    const r = await run(['get', '--insecure', '--out', join(out, 'insecure'), `https://127.0.0.1:${s.port}/b.txt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'insecure', 'b.txt'), 'utf8'), 'hello\n');
    s.child.kill('SIGINT');
  });

  it('usage errors name the option (exit 2); unreadable files name the option and file (exit 1)', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['get'], 2, /at least one URL/],
      [['get', '--alpn', 'h2', 'https://x/a'], 2, /--alpn' takes h3 or hq-interop/],
      [['get', '--ca', 'x', '--insecure', 'https://x/a'], 2, /'--ca' and '--insecure' exclude each other/],
      [['get', 'http://x/a'], 2, /only https:\/\//],
      [['get', '--ca', join(dir, 'none.pem'), 'https://localhost:1/a'], 1, /--ca .*none\.pem: cannot read/],
      [['serve', www], 2, /'--cert' and '--key' are needed/],
      [['serve', '--self-signed', '--cert', 'x', www], 2, /excludes '--cert'/],
      [['serve', '--cert', join(dir, 'key.pem'), '--key', join(dir, 'key.pem'), www], 1, /--cert .*key\.pem: no PEM CERTIFICATE/],
      [['serve', '--self-signed', join(dir, 'nope')], 1, /nope: no such file or directory/],
    ];
    for (const [args, code, re] of cases) {
      const r = await run(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });
});
