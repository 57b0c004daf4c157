/**
 * [resumption] bench keys: the handshake with a session ticket (RFC 9846 §2.2: one round trip,
 * no signatures), measured like `handshake_ms_p50` and `handshakes_per_s` against the same
 * server child, from a client endpoint of its own whose session cache holds enough tickets for
 * 32 concurrent dials (the default cache keeps 4 per server). `zerortt_first_byte_ms`: the time
 * from `connect({ earlyData: true })` to the first byte of the answer to a request sent in 0-RTT
 * (the server answers in 0.5-RTT: about one round trip, where a resumed handshake then a request
 * takes two).
 */
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import type { SessionCache } from '../src/session/session-cache.js';
import type { ResumptionTicket } from '../src/tls/resumption.js';
import { BENCH_ALPN } from './common.js';
import { median } from './proc.js';

/** A cache for the bench: every ticket kept (the server sends 2 per connection). */
class BenchCache implements SessionCache {
  readonly tickets: ResumptionTicket[] = [];
  takeTicket(_server: string, alpn: string): ResumptionTicket | undefined {
    const i = this.tickets.findIndex((t) => t.alpn === alpn);
    return i < 0 ? undefined : this.tickets.splice(i, 1)[0];
  }
  putTicket(_server: string, t: ResumptionTicket): void {
    this.tickets.push(t);
  }
  token(): Uint8Array | undefined {
    return undefined;
  }
  putToken(): void {}
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (untimed) until the cache holds more than `n` tickets, or `ms` passed. */
async function ticketsAbove(cache: BenchCache, n: number, ms = 1000): Promise<void> {
  const end = performance.now() + ms;
  while (cache.tickets.length <= n && performance.now() < end) await sleep(1);
}

export interface ResumedResult {
  readonly msP50: number;
  readonly perS: number;
  readonly details: Record<string, unknown>;
}

export async function resumedHandshakes(ticket: string, sequential: number, rounds: number): Promise<ResumedResult> {
  const cache = new BenchCache();
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: cache });
  try {
    const dial = (): Promise<Session> => Session.connect(client, ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
    // A full handshake first: its tickets start the chain.
    const first = await dial();
    await ticketsAbove(cache, 0);
    first.close({ closeCode: 0, reason: 'bye' });
    const ms: number[] = [];
    let resumed = 0;
    for (let i = 0; i < sequential; i++) {
      const have = cache.tickets.length;
      const t0 = performance.now();
      const s = await dial();
      ms.push(performance.now() - t0);
      if (s.resumed) resumed++;
      await ticketsAbove(cache, have - 1); // the new tickets, before closing (untimed)
      s.close({ closeCode: 0, reason: 'bye' });
    }
    // Enough tickets for 32 concurrent dials.
    for (let i = 0; i < 20 && cache.tickets.length < 32; i++) {
      const have = cache.tickets.length;
      const s = await dial();
      await ticketsAbove(cache, have);
      s.close({ closeCode: 0, reason: 'bye' });
    }
    let done = 0;
    let concurrentResumed = 0;
    let dialMs = 0;
    for (let r = 0; r < rounds; r++) {
      const have = cache.tickets.length;
      const t0 = performance.now();
      const sessions = await Promise.all(Array.from({ length: 32 }, dial));
      dialMs += performance.now() - t0;
      done += sessions.length;
      concurrentResumed += sessions.filter((s) => s.resumed).length;
      await ticketsAbove(cache, have + 31, 2000);
      for (const s of sessions) s.close({ closeCode: 0, reason: 'bye' });
    }
    return {
      msP50: median(ms),
      perS: done / (dialMs / 1000),
      details: { sequential: ms.length, sequentialResumed: resumed, concurrent: done, concurrentResumed },
    };
  } finally {
    await client.close();
  }
}

export interface ZeroRttResult {
  readonly msP50: number;
  readonly details: Record<string, unknown>;
}

/**
 * `zerortt_first_byte_ms`: `n` sequential dials with early data, each timed from `connect` to the
 * first byte of the server's echo of a 2-byte request ('E' mode of the bench server) written at
 * once, in 0-RTT. The first dial is a full handshake for the tickets (untimed).
 */
export async function zeroRttFirstByte(ticket: string, n: number): Promise<ZeroRttResult> {
  const cache = new BenchCache();
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: cache });
  try {
    const first = await Session.connect(client, ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
    await ticketsAbove(cache, 0);
    first.close({ closeCode: 0, reason: 'bye' });
    const ms: number[] = [];
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const have = cache.tickets.length;
      const t0 = performance.now();
      const s = await Session.connect(client, ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000, earlyData: true });
      const st = await s.createBidirectionalStream();
      const writer = st.writable.getWriter();
      void writer.write(Uint8Array.of(0x45 /* E: echo */, 0x21)).catch(() => {});
      const reader = st.readable.getReader();
      const { value } = await reader.read();
      ms.push(performance.now() - t0);
      if (!value || value.length === 0) throw new Error('no answer to the 0-RTT request');
      await s.ready;
      if (s.earlyDataAccepted) accepted++;
      await ticketsAbove(cache, have - 1); // the new tickets, before closing (untimed)
      s.close({ closeCode: 0, reason: 'bye' });
    }
    return { msP50: median(ms), details: { dials: ms.length, earlyDataAccepted: accepted } };
  } finally {
    await client.close();
  }
}
