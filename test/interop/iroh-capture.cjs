#!/usr/bin/env node
'use strict';
/*
 * Records the first UDP datagrams of a real iroh <-> iroh connection, for fixtures
 * (test/fixtures/iroh-capture.json). Run by hand, INSIDE a loopback-only namespace:
 *
 *   unshare -rn sh -c 'ip link set lo up && exec node test/interop/iroh-capture.cjs' > test/fixtures/iroh-capture.json
 *
 * An iroh echo node (fixed secret key) listens on 127.0.0.1; a dumb UDP relay (node:dgram, also on
 * 127.0.0.1) sits between it and an iroh dialer (fixed secret key) that dials the relay's address,
 * echoes one message and closes with code 7. The relay forwards every datagram unchanged and
 * records the first MAX_PER_DIRECTION of each direction as hex.
 *
 * No TLS secrets: @number0/iroh exposes no keylog. Only the Initial packets can be opened (their
 * keys derive from the client's first Destination Connection ID, RFC 9001 §5.2); Handshake and
 * 1-RTT packets stay opaque. The endpoint secret keys are recorded (identities only: the X25519
 * shares and all randoms are fresh each run).
 */
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const path = require('node:path');
const crypto = require('node:crypto');

const MAX_PER_DIRECTION = 12;
const ALPN = 'quic-peer/capture';
const MESSAGE = 'hello from the capture';
const SERVER_SECRET = crypto.createHash('sha256').update('quic-peer iroh-capture server').digest('hex');
const CLIENT_SECRET = crypto.createHash('sha256').update('quic-peer iroh-capture client').digest('hex');
const NODE = path.join(__dirname, 'iroh-node.cjs');

function lines(child, onLine) {
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (s) => {
    buf += s;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (l.startsWith('{')) onLine(JSON.parse(l));
    }
  });
}

async function main() {
  // iroh-node.cjs refuses to run outside a namespace; check here too so the relay never binds outside.
  const check = require('node:child_process').spawnSync(process.execPath, [NODE, 'check']);
  if (check.status !== 0) {
    process.stderr.write(`not isolated: ${check.stdout}\n`);
    process.exit(3);
  }

  const server = spawn(process.execPath, [NODE, 'echo', '--alpn', ALPN, '--secret', SERVER_SECRET, '--timeout-ms', '30000'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const serverEvents = [];
  const ready = await new Promise((resolve, reject) => {
    lines(server, (e) => {
      serverEvents.push(e);
      if (e.event === 'ready') resolve(e);
    });
    server.on('exit', (c) => reject(new Error(`echo node exited ${c}`)));
  });
  const serverAddr = ready.addrs.find((a) => a.startsWith('127.0.0.1:'));
  const serverPort = Number(serverAddr.split(':')[1]);

  const datagrams = [];
  const counts = { c2s: 0, s2c: 0 };
  const t0 = process.hrtime.bigint();
  const record = (dir, msg) => {
    counts[dir]++;
    if (counts[dir] <= MAX_PER_DIRECTION) {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      datagrams.push({ dir, n: counts[dir], ms: Math.round(ms * 10) / 10, len: msg.length, hex: msg.toString('hex') });
    }
  };
  const front = dgram.createSocket('udp4'); // the dialer talks to this one
  const back = dgram.createSocket('udp4'); // this one talks to the server
  let client = null;
  front.on('message', (msg, rinfo) => {
    client = rinfo;
    record('c2s', msg);
    back.send(msg, serverPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    record('s2c', msg);
    if (client) front.send(msg, client.port, client.address);
  });
  await new Promise((r) => front.bind(0, '127.0.0.1', r));
  await new Promise((r) => back.bind(0, '127.0.0.1', r));
  const relayAddr = `127.0.0.1:${front.address().port}`;

  const dialer = spawn(
    process.execPath,
    [NODE, 'dial', '--id', ready.id, '--addr', relayAddr, '--alpn', ALPN, '--message', MESSAGE, '--secret', CLIENT_SECRET,
      '--close-code', '7', '--close-reason', 'capture done'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let result = null;
  lines(dialer, (e) => {
    if (e.event === 'result') result = e;
  });
  const dialExit = await new Promise((r) => dialer.on('close', r));
  await new Promise((r) => setTimeout(r, 300)); // let the closing exchange pass the relay
  server.stdin.end();
  await new Promise((r) => server.on('close', r));
  front.close();
  back.close();

  process.stdout.write(
    JSON.stringify(
      {
        description:
          'First UDP datagrams between two iroh 1.0.2 endpoints (@number0/iroh 1.1.0) on loopback, recorded by a UDP relay. ' +
          'c2s = dialer (client) to echo node (server). No TLS secrets (no keylog in the binding): only Initial packets can be opened, ' +
          'with keys derived from the DCID of the first client Initial (RFC 9001 §5.2). Fresh X25519 shares and randoms each run.',
        recordedWith: 'unshare -rn sh -c \'ip link set lo up && exec node test/interop/iroh-capture.cjs\'',
        iroh: '1.0.2 (@number0/iroh 1.1.0)',
        alpn: ALPN,
        message: MESSAGE,
        closeCode: 7,
        closeReason: 'capture done',
        server: { secretKey: SERVER_SECRET, id: ready.id, addr: serverAddr },
        client: { secretKey: CLIENT_SECRET, id: result && result.localId, addr: relayAddr },
        dial: result,
        dialExit,
        serverEvents: serverEvents.filter((e) => e.event !== 'ready'),
        counts,
        datagrams,
      },
      null,
      1,
    ) + '\n',
  );
  process.exit(result && result.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  process.exit(1);
});
