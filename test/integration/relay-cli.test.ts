import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../src/codec/bytes.js';
import { publicKeyOf } from '../../src/tls/identity.js';
import { RelayClient } from '../../src/relay/client.js';
import { within } from './util.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Endpoint } from '../../src/session/endpoint.js';
import { generateCertificate } from '../../src/session/certificates.js';

/** `quic-peer relay`, run as a user would (compiled JavaScript, a child process, loopback TCP). */
const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('quic-peer relay (the command)', function () {
  this.timeout(30_000);

  it('--help documents the options', () => {
    const r = run(['relay', '--help']);
    assert.equal(r.code, 0);
    for (const o of ['--bind', '--cert', '--key', '--qad-port', '--metrics-interval']) assert.ok(r.stdout.includes(o), o);
    assert.match(run(['--help']).stdout, /quic-peer relay/);
  });

  it('usage errors name the option (exit 2)', () => {
    const cases: Array<[string[], RegExp]> = [
      [['relay', '--cert', 'x.pem'], /'--cert' needs '--key'/],
      [['relay', '--key', 'x.pem'], /'--key' needs '--cert'/],
      [['relay', '--bind', 'nowhere'], /'--bind'/],
      [['relay', '--metrics-interval', '-1'], /'--metrics-interval'/],
      [['relay', '--frobnicate'], /'--frobnicate'/],
      [['relay', 'extra'], /unexpected argument 'extra'/],
      [['relay', '--qad-port', '7842'], /'--qad-port' needs '--cert' and '--key'/],
      [['relay', '--qad-port', 'x', '--cert', 'c', '--key', 'k'], /'--qad-port' takes a UDP port/],
      [['relay', '--qad-port', '70000'], /'--qad-port' takes a UDP port/],
      [['listen', '--relay-qad-port', '7842'], /'--relay-qad-port' goes with '--relay'/],
      [['listen', '--relay-ca', 'ca.pem'], /'--relay-ca' goes with '--relay'/],
      [['listen', '--relay', 'http://127.0.0.1:1', '--relay-qad-port', '70000'], /'--relay-qad-port' takes a UDP port/],
      [['listen', '--webtransport', '--relay-ca', 'ca.pem'], /'--relay-ca' does not go with '--webtransport'/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, re);
    }
  });

  it('an unreadable certificate is a failure naming the file (exit 1)', () => {
    const r = run(['relay', '--bind', '127.0.0.1:0', '--cert', '/nonexistent/cert.pem', '--key', '/nonexistent/key.pem']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read --cert \/nonexistent\/cert\.pem/);
  });

  it('prints its URL, relays datagrams, prints metrics on stderr and exits cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [main, 'relay', '--bind', '127.0.0.1:0', '--metrics-interval', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await within(
        new Promise<string>((resolve) => {
          const check = (): void => {
            const m = /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
            if (m) resolve(m[1]!);
          };
          child.stdout.on('data', check);
        }),
        10_000,
        'relay URL on stdout',
      );
      const got: string[] = [];
      const seeds = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
      const [a, b] = seeds.map((secretKey) => new RelayClient({ url, secretKey, onDatagram: (src, d) => got.push(`${toHex(src)}:${d.length}`) }));
      a!.start();
      b!.start();
      await within(Promise.all([a!.connected(), b!.connected()]), 10_000, 'clients connect');
      assert.ok(a!.send(publicKeyOf(seeds[1]!), new Uint8Array(100)));
      await within(
        (async () => {
          while (got.length === 0) await new Promise((r) => setTimeout(r, 10));
        })(),
        5000,
        'datagram through the relay',
      );
      assert.equal(got[0], `${toHex(publicKeyOf(seeds[0]!))}:100`);
      await within(
        (async () => {
          while (!/metrics clients=2 .*forwarded_datagrams=1 /.test(err)) await new Promise((r) => setTimeout(r, 20));
        })(),
        5000,
        `a periodic metrics line; stderr: ${err}`,
      );
      await Promise.all([a!.close(), b!.close()]);
      // The clients' close() resolves when their side is done; the relay sees the disconnects a
      // moment later: wait for a periodic line that shows them before stopping it.
      await within(
        (async () => {
          while (!/metrics clients=0 .*disconnects=2 /.test(err)) await new Promise((r) => setTimeout(r, 20));
        })(),
        5000,
        `the relay sees both clients gone; stderr: ${err}`,
      );
      child.kill('SIGINT');
      const code = await within(exited, 10_000, 'exit after SIGINT');
      assert.equal(code, 130);
      const lines = err.trim().split('\n');
      assert.match(lines[lines.length - 2] ?? '', /^metrics clients=0 .*accepts=2 disconnects=2 forwarded_frames=1 /);
      assert.match(lines[lines.length - 1] ?? '', /interrupted \(SIGINT\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--qad-port serves QUIC Address Discovery with the relay\'s certificate: an endpoint with relayAddressDiscovery, and `listen --relay-qad-port`, learn their address from it', async () => {
    const cert = await generateCertificate({ names: ['127.0.0.1'] });
    const dir = mkdtempSync(join(tmpdir(), 'qp-relay-qad-'));
    writeFileSync(join(dir, 'cert.pem'), cert.cert);
    writeFileSync(join(dir, 'key.pem'), cert.key);
    const child = spawn(process.execPath, [main, 'relay', '--bind', '127.0.0.1:0', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--qad-port', '0', '--metrics-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let ep: Endpoint | undefined;
    try {
      await within(
        (async () => {
          while (!/^https:\/\/127\.0\.0\.1:\d+\n/.test(out) || !/on udp 127\.0\.0\.1:\d+\n/.test(err)) await new Promise((r) => setTimeout(r, 10));
        })(),
        10_000,
        `relay URL on stdout, QAD address on stderr; stderr: ${err}`,
      );
      const url = out.trim();
      const qadPort = Number(/on udp 127\.0\.0\.1:(\d+)\n/.exec(err)![1]);
      // The relay's CA (relayCa) is trusted for its QAD certificate too.
      ep = await Endpoint.bind({ bind: '127.0.0.1:0', relays: [url], relayCa: cert.cert, relayAddressDiscovery: { port: qadPort } });
      await within(
        (async () => {
          while (ep!.relayAddressDiscovery?.observed == null && ep!.relayAddressDiscovery?.connection !== 'failed') await new Promise((r) => setTimeout(r, 10));
        })(),
        5_000,
        'a report from the relay',
      );
      assert.equal(ep.relayAddressDiscovery?.observed, ep.boundAddresses[0], JSON.stringify(ep.relayAddressDiscovery));
      assert.deepEqual(ep.observedAddresses, [ep.boundAddresses[0]]);
      await ep.close();
      // The same from the shell: `quic-peer listen --relay URL --relay-ca F --relay-qad-port P`.
      const listener = spawn(process.execPath, [main, 'listen', '--bind', '127.0.0.1:0', '--echo', '--relay', url, '--relay-ca', join(dir, 'cert.pem'), '--relay-qad-port', String(qadPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let lerr = '';
      listener.stderr.on('data', (d: Buffer) => (lerr += d.toString()));
      const lexited = new Promise<number | null>((resolve) => listener.on('exit', (code) => resolve(code)));
      try {
        await within(
          (async () => {
            while (!/^ticket /m.test(lerr)) await new Promise((r) => setTimeout(r, 10));
          })(),
          10_000,
          `the listener's ticket; stderr: ${lerr}`,
        );
        const bound = /^listening \S+@(127\.0\.0\.1:\d+)$/m.exec(lerr)?.[1];
        assert.ok(bound, lerr);
        assert.match(lerr, new RegExp(`^relay address discovery: observed ${bound.replace(/\./g, '\\.')}$`, 'm'), lerr);
        // Said before the ticket, after the relay.
        assert.ok(lerr.indexOf('relay address discovery') < lerr.indexOf('ticket '), lerr);
        listener.kill('SIGINT');
        assert.equal(await within(lexited, 10_000, 'the listener exits after SIGINT'), 130);
      } finally {
        listener.kill('SIGKILL');
      }
      child.kill('SIGINT');
      assert.equal(await within(exited, 10_000, 'exit after SIGINT'), 130);
    } finally {
      await ep?.close();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
