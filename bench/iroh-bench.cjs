#!/usr/bin/env node
'use strict';
/*
 * The iroh anchor of the benchmark: two @number0/iroh endpoints in this one process.
 *
 * ONLY RUN INSIDE A LOOPBACK-ONLY NETWORK NAMESPACE (IROH.md "Isolation is mandatory"): bench/run.ts
 * starts it with runIsolated() from test/interop/netns.ts, and this script checks isolationStatus()
 * itself before it loads iroh (exit 3 otherwise).
 *
 *   node bench/iroh-bench.cjs BYTES HANDSHAKES RUNS [PATH_OF_COMPILED_netns.js [PATH_OF_COMPILED_cli/main.js]]
 *
 * Prints one JSON line: {"bulkMbps":[...per run], "handshakeMs":[...], "bytes":N, "warmup":{...}}.
 * With IROH_BENCH_WARMUP=N in the environment, N sequential connects come before the measured
 * HANDSHAKES (run.ts passes its handshakeWarmup: the same warm-up as quic-peer's handshake keys);
 * `warmup.coldP50Ms` is the p50 of the first 200 of them. With IROH_BENCH_BULK_WARMUP=N, N unmeasured
 * transfers come before the RUNS measured ones (run.ts passes its bulkWarmup, as quic-peer's bulk
 * runs get); their figures are `warmup.bulkMbps`.
 *
 * With the CLI's path, the two endpoints talk THROUGH A RELAY: this script starts `quic-peer relay`
 * on 127.0.0.1 (inside the namespace), both endpoints use it (RelayMode.customFromUrls), the
 * dialler knows only the server's id and relay URL, and UDP is blackholed in the namespace (a
 * policy routing rule, `ip rule ... ipproto udp blackhole`, ahead of the local table) so that
 * iroh's hole punching finds no direct path while the relay's TCP still flows. The JSON line
 * then adds "relayBytes" (what the relay forwarded, from its metrics) and "paths" (iroh's view of
 * the last connection's paths).
 */
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const ALPN = Array.from(Buffer.from('bench/iroh'));
const HARD_DEADLINE_MS = 90_000;

async function main() {
  const root = path.resolve(__dirname, '..');
  const netnsPath = process.argv[5] ?? path.join(root, 'build', 'test', 'interop', 'netns.js');
  const netns = await import(pathToFileURL(netnsPath).href);
  const status = netns.isolationStatus();
  if (!status.isolated) {
    process.stderr.write(`refusing to start iroh: not isolated (${status.problems.join('; ')})\n`);
    process.exit(3);
  }
  const bytes = Number(process.argv[2] ?? 4 << 20);
  const handshakes = Number(process.argv[3] ?? 10);
  const runs = Number(process.argv[4] ?? 1);

  const dir = path.dirname(require.resolve('@number0/iroh/package.json', { paths: [__dirname, process.cwd()] }));
  const iroh = require(path.join(dir, 'index.js'));
  const { Endpoint, EndpointAddr, EndpointId, RelayMode, presetMinimal } = iroh;
  const cliMain = process.argv[6];
  if (cliMain) blackholeUdp();
  const relay = cliMain ? await startRelay(cliMain) : undefined;
  const make = async (bind) => {
    const b = Endpoint.builder();
    presetMinimal(b);
    b.relayMode(relay ? RelayMode.customFromUrls([relay.url]) : RelayMode.disabled());
    b.bindAddr(bind);
    b.alpns([ALPN]);
    const ep = await b.bind();
    if (relay) await ep.online();
    return ep;
  };
  const server = await make('127.0.0.1:0');
  const client = await make('127.0.0.1:0');
  const port = server
    .boundSockets()
    .map(String)
    .find((s) => s.startsWith('127.0.0.1:'));
  const target = () =>
    relay
      ? new EndpointAddr(EndpointId.fromString(server.id().toString()), relay.url, [])
      : new EndpointAddr(EndpointId.fromString(server.id().toString()), null, [port]);

  // Server: per connection, every bidi stream is read to its end and answered with its length.
  void (async () => {
    for (;;) {
      const inc = await server.acceptNext();
      if (inc === null || inc === undefined) return;
      void (async () => {
        const conn = await (await inc.accept()).connect();
        for (;;) {
          let s;
          try {
            s = await conn.acceptBi();
          } catch {
            return;
          }
          void (async () => {
            const data = await s.recv.readToEnd(1 << 30);
            await s.send.writeAll(Array.from(Buffer.from(String(data.length))));
            await s.send.finish();
          })().catch(() => {});
        }
      })().catch(() => {});
    }
  })().catch(() => {});

  // Warm-up (IROH_BENCH_WARMUP sequential connects, as quic-peer's handshake keys get in run.ts);
  // the p50 of the first 200 is the cold figure.
  const warmupCount = Number(process.env.IROH_BENCH_WARMUP ?? 0);
  const cold = [];
  for (let i = 0; i < warmupCount; i++) {
    const t0 = performance.now();
    const conn = await client.connect(target(), ALPN);
    if (cold.length < 200) cold.push(performance.now() - t0);
    conn.close(0n, Array.from(Buffer.from('bye')));
  }
  cold.sort((a, b) => a - b);
  const warmup = { handshakes: warmupCount, coldP50Ms: cold.length > 0 ? cold[Math.floor(cold.length / 2)] : null, bulkMbps: [] };

  const handshakeMs = [];
  for (let i = 0; i < handshakes; i++) {
    const t0 = performance.now();
    const conn = await client.connect(target(), ALPN);
    handshakeMs.push(performance.now() - t0);
    conn.close(0n, Array.from(Buffer.from('bye')));
  }

  const bulkMbps = [];
  let paths = null;
  const chunk = Array.from(Buffer.alloc(64 * 1024, 0x61));
  // IROH_BENCH_BULK_WARMUP unmeasured transfers first, as quic-peer's bulk runs get in run.ts.
  const bulkWarmup = Number(process.env.IROH_BENCH_BULK_WARMUP ?? 0);
  const warmupMbps = [];
  for (let r = 0; r < bulkWarmup + runs; r++) {
    const conn = await client.connect(target(), ALPN);
    const t0 = performance.now();
    const s = await conn.openBi();
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      await s.send.writeAll(sent + chunk.length <= bytes ? chunk : chunk.slice(0, bytes - sent));
    }
    await s.send.finish();
    const answer = Buffer.from(await s.recv.readToEnd(64)).toString('utf8');
    const ms = performance.now() - t0;
    if (Number(answer) !== bytes) throw new Error(`iroh server counted ${answer} bytes, sent ${bytes}`);
    (r < bulkWarmup ? warmupMbps : bulkMbps).push((bytes * 8) / (ms * 1000));
    try {
      paths = String(conn.paths ? JSON.stringify(conn.paths()) : 'n/a').slice(0, 500);
    } catch (e) {
      paths = `paths(): ${e && e.message}`;
    }
    conn.close(0n, Array.from(Buffer.from('bye')));
  }
  warmup.bulkMbps = warmupMbps;
  await Promise.race([Promise.all([client.close(), server.close()]), new Promise((r) => setTimeout(r, 2000))]);
  if (relay) {
    const metrics = await relay.stop();
    const m = /forwarded_bytes=(\d+)/.exec(metrics);
    process.stdout.write(JSON.stringify({ bulkMbps, handshakeMs, bytes, relayBytes: m ? Number(m[1]) : null, paths }) + '\n');
  } else {
    process.stdout.write(JSON.stringify({ bulkMbps, handshakeMs, bytes, warmup }) + '\n');
  }
  process.exit(0);
}

/**
 * No UDP in this namespace from now on (IPv4 and IPv6): a rule ahead of the local table sends
 * every UDP packet to a blackhole (sends fail with EINVAL), while TCP, the relay's transport, is
 * untouched. Only ever inside the namespace, which this script checked.
 */
function blackholeUdp() {
  const { execFileSync } = require('node:child_process');
  for (const fam of ['-4', '-6']) {
    for (const args of [['rule', 'del', 'pref', '0'], ['rule', 'add', 'pref', '100', 'lookup', 'local'], ['rule', 'add', 'pref', '10', 'ipproto', 'udp', 'blackhole']]) {
      execFileSync('ip', [fam, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  }
}

/** Starts `quic-peer relay` on 127.0.0.1 (this namespace); resolves with its URL and a stop() giving its last metrics line. */
function startRelay(cliMain) {
  const { spawn } = require('node:child_process');
  const proc = spawn(process.execPath, [cliMain, 'relay', '--bind', '127.0.0.1:0', '--metrics-interval', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s) => (err = (err + s).slice(-20000)));
  const exited = new Promise((r) => proc.on('close', r));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`quic-peer relay printed no URL: ${err}`)), 10000);
    proc.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      const m = /(http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        async stop() {
          proc.kill('SIGINT');
          await exited;
          return err.trim().split('\n').filter((l) => l.includes('metrics')).pop() || '';
        },
      });
    });
  });
}

setTimeout(() => {
  process.stderr.write('iroh-bench: hard deadline\n');
  process.exit(4);
}, HARD_DEADLINE_MS).unref();

main().catch((e) => {
  process.stderr.write(`iroh-bench: ${(e && e.stack) || e}\n`);
  process.exit(1);
});
