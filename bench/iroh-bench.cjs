#!/usr/bin/env node
'use strict';
/*
 * The iroh anchor of the benchmark: two @number0/iroh endpoints in this one process.
 *
 * ONLY RUN INSIDE A LOOPBACK-ONLY NETWORK NAMESPACE (IROH.md "Isolation is mandatory"): bench/run.ts
 * starts it with runIsolated() from test/interop/netns.ts, and this script checks isolationStatus()
 * itself before it loads iroh (exit 3 otherwise).
 *
 *   node bench/iroh-bench.cjs BYTES HANDSHAKES RUNS [PATH_OF_COMPILED_netns.js]
 *
 * Prints one JSON line: {"bulkMbps":[...per run], "handshakeMs":[...], "bytes":N}.
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
  const make = async () => {
    const b = Endpoint.builder();
    presetMinimal(b);
    b.relayMode(RelayMode.disabled());
    b.bindAddr('127.0.0.1:0');
    b.alpns([ALPN]);
    return b.bind();
  };
  const server = await make();
  const client = await make();
  const port = server
    .boundSockets()
    .map(String)
    .find((s) => s.startsWith('127.0.0.1:'));
  const target = () => new EndpointAddr(EndpointId.fromString(server.id().toString()), null, [port]);

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

  const handshakeMs = [];
  for (let i = 0; i < handshakes; i++) {
    const t0 = performance.now();
    const conn = await client.connect(target(), ALPN);
    handshakeMs.push(performance.now() - t0);
    conn.close(0n, Array.from(Buffer.from('bye')));
  }

  const bulkMbps = [];
  const chunk = Array.from(Buffer.alloc(64 * 1024, 0x61));
  for (let r = 0; r < runs; r++) {
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
    bulkMbps.push((bytes * 8) / (ms * 1000));
    conn.close(0n, Array.from(Buffer.from('bye')));
  }
  process.stdout.write(JSON.stringify({ bulkMbps, handshakeMs, bytes }) + '\n');
  await Promise.race([Promise.all([client.close(), server.close()]), new Promise((r) => setTimeout(r, 2000))]);
  process.exit(0);
}

setTimeout(() => {
  process.stderr.write('iroh-bench: hard deadline\n');
  process.exit(4);
}, HARD_DEADLINE_MS).unref();

main().catch((e) => {
  process.stderr.write(`iroh-bench: ${(e && e.stack) || e}\n`);
  process.exit(1);
});
