#!/usr/bin/env node
'use strict';
/*
 * A tiny real iroh node for interop tests (plain CommonJS: runs without a TypeScript build).
 *
 * ONLY EVER RUN IT INSIDE A LOOPBACK-ONLY NETWORK NAMESPACE. iroh starts port mapping (PCP,
 * NAT-PMP, UPnP) toward the default gateway when it binds, even with relays disabled, and traffic
 * to non-loopback addresses is forbidden here. This script checks that it is isolated before it
 * loads iroh and refuses to run otherwise (exit 3):
 *
 *   unshare -rn sh -c 'ip link set lo up && exec node test/interop/iroh-node.cjs echo --alpn test/1'
 *
 * Commands (one JSON object per stdout line; diagnostics go to stderr):
 *
 *   check
 *       Only the isolation check, never loads iroh: {"isolated":bool,"problems":[...]}, exit 0 or 3.
 *
 *   echo --alpn A [--alpn B ...] [--bind 127.0.0.1:0] [--secret HEX32] [--timeout-ms 120000]
 *        [--max-bytes 16777216] [--ignore-stdin] [--log Trace|Debug|Info|Warn|Error] [--relay URL]
 *       First line {"event":"ready","id":HEX,"addrs":[...],"sockets":[...],"ticket":"endpoint...",
 *       "alpns":[...]}. Then accepts connections and echoes: every bidi stream (read to end, write
 *       back, finish), every uni stream (read to end, send back on a new uni stream), every datagram.
 *       Reports events ("accepted", "handshake-failed", "bi", "uni", "datagram", "closed", "error").
 *       Runs until stdin ends (unless --ignore-stdin), SIGTERM/SIGINT, or the timeout; then
 *       prints {"event":"exit","why":...} and exits 0.
 *
 *   --relay URL (echo, dial, rpc): use ONLY this relay (RelayMode.customFromUrls([URL]); a loopback
 *       relay such as our RelayServer): echo and rpc wait until it is their home relay
 *       (ep.online()) before the "ready" line, which then carries "relay"; dial reaches the target
 *       through it (its EndpointAddr gets the relay URL; --addr becomes optional).
 *
 *   dial --id HEX --addr 127.0.0.1:PORT [--addr ...] --alpn A [--message TEXT | --stdin] [--hex]
 *        [--datagram TEXT] [--uni TEXT] [--close-code N] [--close-reason TEXT] [--secret HEX32]
 *        [--timeout-ms 30000] [--max-bytes 16777216] [--log LEVEL]
 *       Connects, opens a bidi stream, sends the message (or all of stdin), finishes, reads the echo;
 *       optionally a datagram and a uni-stream round trip; closes with the code and prints one
 *       {"event":"result","ok":bool,...} line. Exit 0 when ok, 1 otherwise.
 *
 *   rpc [--alpn A ...] [--bind 127.0.0.1:0] [--secret HEX32] [--timeout-ms 120000] [--log LEVEL]
 *       A remote-controlled iroh endpoint (what the interop scenarios drive, see iroh-rpc.ts).
 *       Prints the same "ready" line as echo, then reads one JSON request per stdin line,
 *       {"id":N,"op":OP,...}, runs them concurrently and answers each with one line
 *       {"re":N,"ok":true,...} or {"re":N,"ok":false,"error":TEXT}. Connections and streams are
 *       numbered handles. Bytes travel as base64 ("b64"); reads answer {len, sha256, b64}.
 *       Ops: connect {nodeId, addrs, relayUrl?, alpn} | accept {} -> {conn, remoteId, alpn, from};
 *       echo {conn, datagrams?} (serve it like `echo` does; datagrams: false leaves them to readDatagram); openBi|acceptBi|openUni|acceptUni {conn} -> {stream};
 *       write {stream, b64}; finish|stopped|receivedReset {stream}; reset|stop {stream, code};
 *       read {stream, max?} (to the end); sendDatagram {conn, b64}; readDatagram {conn};
 *       info {conn} -> {maxDatagramSize, stats, paths, rtt, closeReason}; close {conn, code, reason};
 *       closed {conn} -> {reason}; exit {} (closes the endpoint, then the process exits 0).
 *       It also exits when stdin ends or after --timeout-ms.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const EXIT_NOT_ISOLATED = 3;
const EXIT_USAGE = 2;

// ---------------------------------------------------------------------------------------------
// Isolation self-check. Mirrors isolationStatus() in netns.ts (kept dependency-free on purpose).

function isolationProblems() {
  const problems = [];
  const read = (p, required) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      if (required) problems.push(`cannot read ${p}`);
      return undefined;
    }
  };
  const dev = read('/proc/net/dev', true);
  const ifaces = [];
  if (dev !== undefined) {
    for (const line of dev.split('\n').slice(2)) {
      const c = line.indexOf(':');
      if (c > 0) ifaces.push(line.slice(0, c).trim());
    }
    if (!ifaces.includes('lo')) problems.push('no lo interface');
  }
  const others = ifaces.filter((i) => i !== 'lo');
  if (others.length > 0) problems.push(`interfaces other than lo: ${others.join(', ')}`);
  const routeDevs = [];
  const v4 = read('/proc/net/route', true);
  if (v4 !== undefined) {
    for (const line of v4.split('\n').slice(1)) {
      const d = line.trim().split(/\s+/)[0];
      if (d) routeDevs.push(d);
    }
  }
  const v6 = read('/proc/net/ipv6_route', false);
  if (v6 !== undefined) {
    for (const line of v6.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10) routeDevs.push(f[f.length - 1]);
    }
  }
  const foreign = routeDevs.filter((d) => d !== 'lo').length;
  if (foreign > 0) problems.push(`${foreign} route(s) through a device other than lo`);
  const nics = os.networkInterfaces();
  const addressed = Object.keys(nics).filter((n) => n !== 'lo');
  if (addressed.length > 0) problems.push(`addresses on ${addressed.join(', ')}`);
  const loUp = (nics.lo || []).some((a) => a.family === 'IPv4' && a.address === '127.0.0.1');
  if (!loUp) problems.push('lo is down or has no 127.0.0.1');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Output helpers.

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(code, message) {
  process.stderr.write(`iroh-node: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const multi = new Set(['alpn', 'addr']);
  const flags = new Set(['stdin', 'hex', 'ignore-stdin']);
  const opts = { alpn: [], addr: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(EXIT_USAGE, `unexpected argument ${a}`);
    const key = a.slice(2);
    if (flags.has(key)) {
      opts[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) fail(EXIT_USAGE, `${a} needs a value`);
    if (multi.has(key)) opts[key].push(v);
    else opts[key] = v;
  }
  return opts;
}

function intOpt(opts, key, dflt) {
  if (opts[key] === undefined) return dflt;
  const n = Number(opts[key]);
  if (!Number.isSafeInteger(n) || n < 0) fail(EXIT_USAGE, `--${key} must be a non-negative integer`);
  return n;
}

const bytes = (s) => Array.from(Buffer.from(s, 'utf8'));
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
// iroh's errors carry a Rust stack backtrace after the message chain: keep only the chain.
const errMsg = (e) => ((e && e.message) || String(e)).split('\n\nStack backtrace:')[0];

// ---------------------------------------------------------------------------------------------
// Loading iroh. The package's `main`/`types` point at a missing iroh-js/ folder, so require the
// real entry file (index.js at the package root) by path; it picks the platform binary package
// (@number0/iroh-linux-x64-gnu on this machine).

function loadIroh() {
  const dir = path.dirname(require.resolve('@number0/iroh/package.json', { paths: [__dirname, process.cwd()] }));
  return require(path.join(dir, 'index.js'));
}

function makeBuilder(iroh, opts, alpns) {
  const { Endpoint, RelayMode, presetMinimal, setLogLevel } = iroh;
  if (opts.log) setLogLevel(opts.log);
  const b = Endpoint.builder();
  presetMinimal(b); // crypto provider only: no relays, no DNS/pkarr address lookup
  b.relayMode(opts.relay ? RelayMode.customFromUrls([opts.relay]) : RelayMode.disabled());
  b.bindAddr(opts.bind || '127.0.0.1:0'); // NB: iroh keeps its default [::]:0 socket bound too
  if (opts.secret) {
    const key = Buffer.from(opts.secret, 'hex');
    if (key.length !== 32) fail(EXIT_USAGE, '--secret must be 64 hex chars');
    b.secretKey(Array.from(key));
  }
  if (alpns.length > 0) b.alpns(alpns.map(bytes));
  return b;
}

const idHex = (id) => Buffer.from(id.toBytes()).toString('hex');

// ---------------------------------------------------------------------------------------------
// echo

async function runEcho(iroh, opts) {
  if (opts.alpn.length === 0) fail(EXIT_USAGE, 'echo needs at least one --alpn');
  const maxBytes = intOpt(opts, 'max-bytes', 16 << 20);
  const timeoutMs = intOpt(opts, 'timeout-ms', 120_000);
  const ep = await makeBuilder(iroh, opts, opts.alpn).bind();
  await waitOnline(ep, opts);
  emit(readyLine(iroh, ep, opts.alpn));

  const shutdown = exitOnSignals(ep, timeoutMs);
  if (!opts['ignore-stdin']) {
    process.stdin.on('end', () => void shutdown('stdin closed'));
    process.stdin.on('close', () => void shutdown('stdin closed'));
    process.stdin.resume();
  }

  for (;;) {
    const inc = await ep.acceptNext();
    if (inc === null) break; // endpoint closed
    void serveConnection(inc, maxBytes);
  }
  await shutdown('endpoint closed');
}

async function serveConnection(inc, maxBytes) {
  let from = null;
  try {
    from = (await inc.remoteAddr()).addr ?? null;
  } catch {
    // only informative
  }
  let conn;
  try {
    const accepting = await inc.accept();
    conn = await accepting.connect();
  } catch (e) {
    emit({ event: 'handshake-failed', from, error: errMsg(e) });
    return;
  }
  const remoteId = idHex(conn.remoteId());
  emit({ event: 'accepted', from, remoteId, alpn: Buffer.from(conn.alpn()).toString('utf8') });
  await serveEstablished(conn, remoteId, maxBytes);
}

/** Echoes every bidi stream, uni stream and datagram of `conn` until it closes. */
async function serveEstablished(conn, remoteId, maxBytes, { datagrams = true } = {}) {
  const bi = (async () => {
    for (;;) {
      const s = await conn.acceptBi();
      void (async () => {
        try {
          const data = await s.recv.readToEnd(maxBytes);
          await s.send.writeAll(data);
          await s.send.finish();
          emit({ event: 'bi', remoteId, bytes: data.length });
        } catch (e) {
          emit({ event: 'error', where: 'bi', remoteId, error: errMsg(e) });
        }
      })();
    }
  })();
  const uni = (async () => {
    for (;;) {
      const r = await conn.acceptUni();
      void (async () => {
        try {
          const data = await r.readToEnd(maxBytes);
          const s = await conn.openUni();
          await s.writeAll(data);
          await s.finish();
          emit({ event: 'uni', remoteId, bytes: data.length });
        } catch (e) {
          emit({ event: 'error', where: 'uni', remoteId, error: errMsg(e) });
        }
      })();
    }
  })();
  const dgrams = (async () => {
    while (datagrams) {
      const d = await conn.readDatagram();
      try {
        conn.sendDatagram(d);
        emit({ event: 'datagram', remoteId, bytes: d.length });
      } catch (e) {
        emit({ event: 'error', where: 'datagram', remoteId, error: errMsg(e) });
      }
    }
  })();
  // The accept loops end by rejecting once the connection is gone; closed() says why.
  bi.catch(() => {});
  uni.catch(() => {});
  dgrams.catch(() => {});
  const reason = await conn.closed().catch((e) => errMsg(e));
  emit({ event: 'closed', remoteId, reason });
}

// ---------------------------------------------------------------------------------------------
// dial

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

function withTimeout(p, ms, what) {
  let t;
  const timeout = new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

async function runDial(iroh, opts) {
  if (!opts.id) fail(EXIT_USAGE, 'dial needs --id');
  if (opts.addr.length === 0 && !opts.relay) fail(EXIT_USAGE, 'dial needs --addr or --relay');
  if (opts.alpn.length !== 1) fail(EXIT_USAGE, 'dial needs exactly one --alpn');
  const maxBytes = intOpt(opts, 'max-bytes', 16 << 20);
  const timeoutMs = intOpt(opts, 'timeout-ms', 30_000);
  const closeCode = BigInt(opts['close-code'] ?? '0');
  const payload = opts.stdin ? await readAll(process.stdin) : Buffer.from(opts.message ?? 'hello iroh', 'utf8');

  const result = { event: 'result', ok: false, remoteId: null, alpn: opts.alpn[0] };
  const hardStop = setTimeout(() => {
    result.error = `dial timed out after ${timeoutMs} ms`;
    emit(result);
    process.exit(1);
  }, timeoutMs);

  const { EndpointAddr, EndpointId } = iroh;
  const ep = await makeBuilder(iroh, opts, []).bind();
  result.localId = idHex(ep.id());
  try {
    const target = new EndpointAddr(EndpointId.fromString(opts.id), opts.relay ?? null, opts.addr);
    let t0 = performance.now();
    const conn = await ep.connect(target, bytes(opts.alpn[0]));
    result.connectMs = Math.round(performance.now() - t0);
    result.remoteId = idHex(conn.remoteId());

    t0 = performance.now();
    const s = await conn.openBi();
    await s.send.writeAll(Array.from(payload));
    await s.send.finish();
    const echo = Buffer.from(await s.recv.readToEnd(maxBytes));
    result.echoMs = Math.round(performance.now() - t0);
    result.sentBytes = payload.length;
    result.echoBytes = echo.length;
    result.equal = echo.equals(payload);
    result.sentSha256 = sha256(payload);
    result.echoSha256 = sha256(echo);
    if (!opts.stdin) result.echo = echo.toString('utf8');
    if (opts.hex) result.echoHex = echo.toString('hex');

    if (opts.datagram !== undefined) {
      conn.sendDatagram(bytes(opts.datagram));
      const d = await withTimeout(conn.readDatagram(), 5000, 'datagram echo');
      result.datagramEcho = Buffer.from(d).toString('utf8');
    }
    if (opts.uni !== undefined) {
      const u = await conn.openUni();
      await u.writeAll(bytes(opts.uni));
      await u.finish();
      const r = await withTimeout(conn.acceptUni(), 5000, 'uni echo');
      result.uniEcho = Buffer.from(await r.readToEnd(maxBytes)).toString('utf8');
    }
    result.maxDatagramSize = conn.maxDatagramSize();
    result.stats = conn.stats();
    conn.close(closeCode, bytes(opts['close-reason'] ?? 'done'));
    result.closeCode = Number(closeCode);
    result.ok =
      result.equal &&
      (opts.datagram === undefined || result.datagramEcho === opts.datagram) &&
      (opts.uni === undefined || result.uniEcho === opts.uni);
  } catch (e) {
    result.error = errMsg(e);
  }
  await Promise.race([ep.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  clearTimeout(hardStop);
  emit(result);
  process.exit(result.ok ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------
// rpc

function readyLine(iroh, ep, alpns) {
  const addrs = ep
    .addr()
    .directAddresses()
    .sort((a, b) => Number(a.startsWith('[')) - Number(b.startsWith('['))); // IPv4 first
  return {
    event: 'ready',
    id: idHex(ep.id()),
    addrs,
    sockets: ep.boundSockets(),
    ticket: iroh.EndpointTicket.fromAddr(ep.addr()).toString(),
    alpns,
    ...(ep.addr().relayUrl() ? { relay: ep.addr().relayUrl() } : {}),
  };
}

/** With --relay: wait until the relay is our home relay (ep.online(); the watch* calls panic). */
async function waitOnline(ep, opts) {
  if (!opts.relay) return;
  await withTimeout(ep.online(), intOpt(opts, 'online-timeout-ms', 15_000), `connecting to the relay ${opts.relay}`).catch((e) =>
    fail(1, errMsg(e)),
  );
}

async function runRpc(iroh, opts) {
  const timeoutMs = intOpt(opts, 'timeout-ms', 120_000);
  // A dial-only endpoint may serve no ALPN at all (then every incoming handshake fails).
  const ep = await makeBuilder(iroh, opts, opts.alpn).bind();
  await waitOnline(ep, opts);
  emit(readyLine(iroh, ep, opts.alpn));

  const handles = new Map();
  let next = 1;
  const put = (obj) => {
    const h = next++;
    handles.set(h, obj);
    return h;
  };
  const get = (h, what) => {
    const o = handles.get(h);
    if (o === undefined || (what && o.kind !== what)) throw new Error(`no ${what || 'object'} with handle ${h}`);
    return o;
  };
  const b64 = (b) => Buffer.from(b).toString('base64');
  const unb64 = (s) => Array.from(Buffer.from(s || '', 'base64'));
  const connInfo = (conn) => ({ conn: put({ kind: 'conn', conn }), remoteId: idHex(conn.remoteId()), alpn: Buffer.from(conn.alpn()).toString('utf8') });
  // NB: the binding wraps each SendStream/RecvStream in a mutex held for a whole call, so e.g. a
  // pending `stopped()` blocks `write` on the same stream; and `readToEnd` after
  // `receivedReset()` fails with `Read(ClosedStream)`. Scenarios use one op per stream at a time.
  const sendOf = (r) => {
    const s = get(r.stream, 'stream');
    if (!s.send) throw new Error(`stream ${r.stream} has no send side`);
    return s.send;
  };
  const recvOf = (r) => {
    const s = get(r.stream, 'stream');
    if (!s.recv) throw new Error(`stream ${r.stream} has no receive side`);
    return s.recv;
  };

  const ops = {
    async connect(r) {
      const target = new iroh.EndpointAddr(iroh.EndpointId.fromString(r.nodeId), r.relayUrl ?? null, r.addrs ?? []);
      const t0 = performance.now();
      const conn = await ep.connect(target, bytes(r.alpn));
      return { ...connInfo(conn), connectMs: Math.round(performance.now() - t0) };
    },
    async accept() {
      const inc = await ep.acceptNext();
      if (inc === null) throw new Error('endpoint closed');
      let from = null;
      try {
        from = (await inc.remoteAddr()).addr ?? null;
      } catch {
        // only informative
      }
      const conn = await (await inc.accept()).connect();
      return { ...connInfo(conn), from };
    },
    async echo(r) {
      const { conn } = get(r.conn, 'conn');
      void serveEstablished(conn, idHex(conn.remoteId()), 16 << 20, { datagrams: r.datagrams !== false });
      return {};
    },
    async openBi(r) {
      const s = await get(r.conn, 'conn').conn.openBi();
      return { stream: put({ kind: 'stream', send: s.send, recv: s.recv }) };
    },
    async acceptBi(r) {
      const s = await get(r.conn, 'conn').conn.acceptBi();
      return { stream: put({ kind: 'stream', send: s.send, recv: s.recv }) };
    },
    async openUni(r) {
      return { stream: put({ kind: 'stream', send: await get(r.conn, 'conn').conn.openUni() }) };
    },
    async acceptUni(r) {
      return { stream: put({ kind: 'stream', recv: await get(r.conn, 'conn').conn.acceptUni() }) };
    },
    async write(r) {
      await sendOf(r).writeAll(unb64(r.b64));
      return {};
    },
    async finish(r) {
      await sendOf(r).finish();
      return {};
    },
    async reset(r) {
      await sendOf(r).reset(BigInt(r.code));
      return {};
    },
    async stopped(r) {
      return { code: await sendOf(r).stopped() };
    },
    async stop(r) {
      await recvOf(r).stop(BigInt(r.code));
      return {};
    },
    async receivedReset(r) {
      return { code: await recvOf(r).receivedReset() };
    },
    async read(r) {
      const data = Buffer.from(await recvOf(r).readToEnd(r.max ?? 16 << 20));
      return { len: data.length, sha256: sha256(data), b64: data.length <= (r.b64Max ?? 1 << 20) ? b64(data) : undefined };
    },
    async sendDatagram(r) {
      get(r.conn, 'conn').conn.sendDatagram(unb64(r.b64));
      return {};
    },
    async readDatagram(r) {
      return { b64: b64(await get(r.conn, 'conn').conn.readDatagram()) };
    },
    async info(r) {
      const { conn } = get(r.conn, 'conn');
      return { maxDatagramSize: conn.maxDatagramSize(), stats: conn.stats(), paths: conn.paths(), rtt: conn.rtt(), closeReason: conn.closeReason() };
    },
    async close(r) {
      get(r.conn, 'conn').conn.close(BigInt(r.code ?? 0), bytes(r.reason ?? ''));
      return {};
    },
    async closed(r) {
      return { reason: await get(r.conn, 'conn').conn.closed() };
    },
    async exit() {
      setImmediate(() => void shutdown('exit requested'));
      return {};
    },
  };

  const shutdown = exitOnSignals(ep, timeoutMs);

  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === '') continue;
      let req;
      try {
        req = JSON.parse(line);
      } catch {
        emit({ event: 'error', where: 'rpc', error: `bad request line: ${line.slice(0, 200)}` });
        continue;
      }
      const op = ops[req.op];
      const run = op === undefined ? Promise.reject(new Error(`unknown op ${req.op}`)) : Promise.resolve().then(() => op(req));
      run.then(
        (res) => emit({ re: req.id, ok: true, ...res }),
        (e) => emit({ re: req.id, ok: false, error: errMsg(e) }),
      );
    }
  });
  process.stdin.on('end', () => void shutdown('stdin closed'));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd !== 'check' && cmd !== 'echo' && cmd !== 'dial' && cmd !== 'rpc') {
    fail(EXIT_USAGE, 'usage: iroh-node.cjs check | echo --alpn A ... | dial --id HEX --addr IP:PORT --alpn A ... | rpc [--alpn A ...]');
  }
  // The isolation check comes before iroh is even loaded.
  const problems = isolationProblems();
  if (cmd === 'check') {
    emit({ isolated: problems.length === 0, problems });
    process.exit(problems.length === 0 ? 0 : EXIT_NOT_ISOLATED);
  }
  if (problems.length > 0) {
    fail(
      EXIT_NOT_ISOLATED,
      `refusing to start iroh outside a loopback-only network namespace (${problems.join('; ')}).\n` +
        `run it as: unshare -rn sh -c 'ip link set lo up && exec node ${path.relative(process.cwd(), __filename)} ...'`,
    );
  }
  const opts = parseArgs(rest);
  const iroh = loadIroh();
  if (cmd === 'echo') await runEcho(iroh, opts);
  else if (cmd === 'rpc') await runRpc(iroh, opts);
  else await runDial(iroh, opts);
}

main().catch((e) => fail(1, (e && e.stack) || String(e)));

/**
 * Exits (0) once, on SIGTERM/SIGINT, after `timeoutMs`, or when the returned function is called,
 * closing the endpoint first (Endpoint.close() closes connections gracefully; it may not hang the
 * exit for more than 2 s). Emits an 'exit' event with the reason.
 */
function exitOnSignals(ep, timeoutMs) {
  let stopping = false;
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    emit({ event: 'exit', why });
    await Promise.race([ep.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    process.exit(0);
  };
  setTimeout(() => void shutdown('timeout'), timeoutMs).unref();
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
