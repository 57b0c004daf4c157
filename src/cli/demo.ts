import { performance } from 'node:perf_hooks';
import { Endpoint, Session } from '../index.js';
import { UsageError, intOpt, parseArgs, socketAddrOpts } from './args.js';
import { bindEndpoint, noMultipathHelp, transportOptions } from './common.js';
import { EXIT_STATUS_HELP } from './exit.js';
import { echoSession } from './echo.js';

/**
 * `quic-peer demo` (what `npm start` runs): in one process, a listener and a dialer on loopback
 * UDP: the handshake time, echo round trips, datagrams, and a bulk transfer with a live progress
 * bar and a summary of throughput, RTT, loss and path MTU.
 */
export const DEMO_HELP = `quic-peer demo: a listener and a dialer in one process, over loopback UDP

Usage: quic-peer demo [--bytes N] [--pings N] [--datagrams N] [--bind ip:port]... [--no-multipath]

  --bytes N       size of the bulk transfer (default 100000000, 100 MB)
  --pings N       64-byte echo round trips to time (default 200)
  --datagrams N   datagrams of 100 bytes to send and count (default 1000)
  --bind ip:port  the listener's address (repeatable; default 127.0.0.1:0); the dialer binds
                  the same IPs, port 0
${noMultipathHelp(18)}

${EXIT_STATUS_HELP}`;

const DEMO_SPEC = { bytes: { value: true }, pings: { value: true }, datagrams: { value: true }, bind: { value: true, repeat: true }, 'no-multipath': {}, help: {} } as const;

export async function runDemo(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, DEMO_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${DEMO_HELP}\n`);
    return 0;
  }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  const bytes = intOpt(p, 'bytes', 100_000_000);
  const pings = intOpt(p, 'pings', 200);
  const datagramCount = intOpt(p, 'datagrams', 1000);
  const out = (s: string): void => void process.stdout.write(`${s}\n`);

  // Loopback unless told otherwise: the demo is one process talking to itself.
  const bind = socketAddrOpts(p, 'bind') ?? ['127.0.0.1:0'];
  const listener = await bindEndpoint(p, { bind });
  const dialer = await Endpoint.bind({ bind: bind.map(anyPort), acceptIncoming: false, ...(p.flags.has('no-multipath') ? { transport: transportOptions(p) } : {}) }).catch(async (e: unknown) => {
    await listener.close();
    throw e;
  });
  // Ctrl-C: close both endpoints (every session with them); the steps below then fail and the
  // command returns.
  const stop = (): void => {
    // End the progress bar's line, so that what follows starts on its own.
    if (process.stdout.isTTY) process.stdout.write('\n');
    void Promise.all([dialer.close(), listener.close()]);
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    if (signal.aborted) return 0;
    out(`quic-peer demo (${socketAddrOpts(p, 'bind') ? `UDP on ${bind.join(', ')}` : 'loopback UDP'}, one process)`);
    out(`  listener  ${listener.id.toString()}@${listener.addr().addrs[0] ?? listener.boundAddresses[0]}`);
    out(`  dialer    ${dialer.id.toString()}`);
    const serving = (async () => {
      for (let s = await Session.accept(listener); s; s = await Session.accept(listener)) void echoSession(s);
    })();

    // Handshake.
    const t0 = performance.now();
    const session = await Session.connect(dialer, listener.ticket());
    const hsMs = performance.now() - t0;
    out(`\nhandshake      ${hsMs.toFixed(2)} ms (TLS 1.3, Ed25519 raw public keys both ways, ALPN ${session.alpn})`);
    out(`  peer proved  ${session.remoteId.toString()}`);

    // Echo round trips on one stream.
    const { readable, writable } = await session.createBidirectionalStream();
    const w = writable.getWriter();
    const r = readable.getReader();
    const msg = new Uint8Array(64).fill(0x61);
    const rtts: number[] = [];
    for (let i = 0; i < pings; i++) {
      const t = performance.now();
      await w.write(msg);
      let got = 0;
      while (got < msg.length) {
        const x = await r.read();
        if (x.done) throw new Error('echo stream ended early');
        got += x.value.length;
      }
      rtts.push((performance.now() - t) * 1000);
    }
    await w.close();
    rtts.sort((a, b) => a - b);
    out(`echo           ${pings} round trips of 64 bytes: p50 ${pct(rtts, 0.5).toFixed(0)} us, p99 ${pct(rtts, 0.99).toFixed(0)} us`);

    // Datagrams.
    let received = 0;
    const counting = (async () => {
      for (let d = await session.recvDatagram(); d && received < datagramCount; d = await session.recvDatagram()) received++;
    })();
    for (let i = 0; i < datagramCount; i++) await session.sendDatagram(new Uint8Array(100).fill(i & 0xff));
    await Promise.race([counting, sleep(1000)]);
    out(`datagrams      ${received}/${datagramCount} echoed (unreliable by design; max size ${session.maxDatagramSize() ?? 0} bytes)`);

    // Bulk transfer on a uni stream to the listener, which echoes it back on another uni stream:
    // count what the listener received through the echo's arrival, one direction timed.
    const bulk = await session.createBidirectionalStream();
    const chunk = new Uint8Array(64 * 1024);
    const start = performance.now();
    let sent = 0;
    let echoed = 0;
    const tty = process.stdout.isTTY === true;
    let lastDraw = 0;
    const draw = (final = false): void => {
      const now = performance.now();
      if (!final && now - lastDraw < (tty ? 100 : 2000)) return;
      lastDraw = now;
      const secs = (now - start) / 1000;
      const frac = echoed / bytes;
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      const line = `transfer       [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${mb(echoed)} / ${mb(bytes)} MB  ${mbps(echoed, secs)} Mbit/s`;
      if (tty) process.stdout.write(`\r${line}${final ? '\n' : ''}`);
      else out(line);
    };
    const reading = (async () => {
      for await (const c of bulk.readable as unknown as AsyncIterable<Uint8Array>) {
        echoed += c.length;
        draw();
      }
    })();
    // Awaited after the writes; until then a failure (Ctrl-C closing the session) must not be an
    // unhandled rejection, which would end the process before the endpoints close.
    reading.catch(() => {});
    const bw = bulk.writable.getWriter();
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent);
      await bw.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      sent += n;
    }
    await bw.close();
    await reading;
    draw(true);
    const secs = (performance.now() - start) / 1000;
    const st = session.getStats();
    out(`  ${mb(bytes)} MB each way in ${secs.toFixed(2)} s: ${mbps(bytes, secs)} Mbit/s goodput per direction`);
    out(`  rtt ${st.rtt.smoothed.toFixed(2)} ms smoothed, ${st.rtt.min.toFixed(2)} ms min; cwnd ${(st.cwnd / 1024).toFixed(0)} KiB; path MTU ${st.mtu} bytes`);
    out(`  packets sent ${st.packetsSent}, lost ${st.packetsLost} (${((100 * st.packetsLost) / Math.max(1, st.packetsSent)).toFixed(2)}%), congestion events ${st.congestionEvents}, key updates ${st.keyUpdates}`);

    session.close({ closeCode: 0, reason: 'demo done' });
    await session.closed;
    void serving;
    return 0;
  } finally {
    signal.removeEventListener('abort', stop);
    await Promise.all([dialer.close(), listener.close()]);
  }
}

/** The same IP, port 0 (`[::1]:5000` -> `[::1]:0`). */
function anyPort(addr: string): string {
  return `${addr.slice(0, addr.lastIndexOf(':'))}:0`;
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const mb = (n: number): string => (n / 1e6).toFixed(1);
const mbps = (n: number, secs: number): string => (secs > 0 ? ((n * 8) / secs / 1e6).toFixed(0) : '0');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
