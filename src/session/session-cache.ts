import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { ResumptionTicket } from '../tls/resumption.js';
import { ticketUsable } from '../tls/resumption.js';
import { InvalidArgumentError } from './errors.js';

/**
 * Where a dialling endpoint keeps the session tickets servers send (RFC 9846 §4.6.1), to resume
 * with them later, and the NEW_TOKEN tokens (RFC 9000 §8.1.3) that spare a Retry. Keyed by the
 * server's identity (`rpk:<endpoint id hex>`): a ticket is only ever offered to the server that
 * issued it. A ticket is taken out when used (TLS 1.3 tickets are single-use: RFC 9846 §C.4),
 * and the server sends new ones on every connection.
 *
 * `Endpoint.bind({ sessionCache })` takes any implementation: the default keeps them in memory,
 * `FileSessionCache` in a JSON file (CLI `--session-cache FILE`), `false` disables resumption.
 */
export interface SessionCache {
  /** Takes (removes and returns) the newest ticket stored for `server` whose ALPN is `alpn`. */
  takeTicket(server: string, alpn: string): ResumptionTicket | undefined;
  /** Stores a ticket for `server`. */
  putTicket(server: string, ticket: ResumptionTicket): void;
  /** The NEW_TOKEN token stored for `server`, if any (kept: a token may be presented again). */
  token(server: string): Uint8Array | undefined;
  /** Stores a NEW_TOKEN token for `server`, replacing the one before. */
  putToken(server: string, token: Uint8Array): void;
}

/** Tickets kept per server, newest last (a server sends two per connection). */
export const MAX_TICKETS_PER_SERVER = 4;
/** Servers remembered; the least recently used is forgotten beyond this. */
export const MAX_CACHED_SERVERS = 1000;

interface Entry {
  tickets: ResumptionTicket[];
  token: Uint8Array | undefined;
}

/** The in-memory cache, bounded (MAX_CACHED_SERVERS x MAX_TICKETS_PER_SERVER). */
export class MemorySessionCache implements SessionCache {
  protected readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  takeTicket(server: string, alpn: string): ResumptionTicket | undefined {
    const e = this.entries.get(server);
    if (!e) return undefined;
    const now = this.now();
    e.tickets = e.tickets.filter((t) => ticketUsable(t, now));
    for (let i = e.tickets.length - 1; i >= 0; i--) {
      if (e.tickets[i]!.alpn !== alpn) continue;
      const [t] = e.tickets.splice(i, 1);
      this.changed();
      return t;
    }
    return undefined;
  }

  putTicket(server: string, ticket: ResumptionTicket): void {
    const e = this.touch(server);
    e.tickets.push(ticket);
    if (e.tickets.length > MAX_TICKETS_PER_SERVER) e.tickets.splice(0, e.tickets.length - MAX_TICKETS_PER_SERVER);
    this.changed();
  }

  token(server: string): Uint8Array | undefined {
    return this.entries.get(server)?.token;
  }

  putToken(server: string, token: Uint8Array): void {
    this.touch(server).token = token.slice();
    this.changed();
  }

  /** Tickets held for `server` (tests, LIMITS). */
  ticketCount(server: string): number {
    return this.entries.get(server)?.tickets.length ?? 0;
  }

  /** Called after every change (the file cache writes). */
  protected changed(): void {}

  private touch(server: string): Entry {
    let e = this.entries.get(server);
    if (e) this.entries.delete(server);
    else e = { tickets: [], token: undefined };
    this.entries.set(server, e);
    while (this.entries.size > MAX_CACHED_SERVERS) this.entries.delete(this.entries.keys().next().value!);
    return e;
  }
}

/**
 * A cache kept in a JSON file, read at construction and rewritten (to a temporary file, then
 * renamed) after every change, so tickets survive a restart. The file holds secrets (each
 * ticket's PSK): it is written with mode 0600. A missing file is an empty cache; an unreadable
 * or malformed one throws at construction.
 */
export class FileSessionCache extends MemorySessionCache {
  /** The file the cache is kept in. */
  readonly path: string;

  constructor(path: string, now: () => number = Date.now) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`FileSessionCache: path must be a file path (a non-empty string), got ${path === null ? 'null' : typeof path}`);
    super(now);
    this.path = path;
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined && text.trim() !== '') this.load(text);
  }

  protected override changed(): void {
    const out: Record<string, unknown> = {};
    for (const [k, e] of this.entries) {
      out[k] = { tickets: e.tickets.map(ticketToJson), ...(e.token ? { token: b64(e.token) } : {}) };
    }
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, servers: out }), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  private load(text: string): void {
    const doc = JSON.parse(text) as { version?: unknown; servers?: Record<string, { tickets?: unknown[]; token?: string }> };
    if (doc.version !== 1 || typeof doc.servers !== 'object' || doc.servers === null) throw new Error(`${this.path}: not a quic-peer session cache`);
    for (const [k, v] of Object.entries(doc.servers)) {
      this.entries.set(k, { tickets: (v.tickets ?? []).map((t) => ticketFromJson(t, this.path)), token: typeof v.token === 'string' ? unb64(v.token) : undefined });
    }
  }
}

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

function unb64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function ticketToJson(t: ResumptionTicket): unknown {
  return {
    ticket: b64(t.ticket), psk: b64(t.psk), suite: t.suite, alpn: t.alpn, receivedAt: t.receivedAt, lifetimeS: t.lifetimeS,
    ageAdd: t.ageAdd, maxEarlyData: t.maxEarlyData,
    ...(t.peerKey ? { peerKey: b64(t.peerKey) } : {}),
    ...(t.transportParameters ? { transportParameters: b64(t.transportParameters) } : {}),
  };
}

function ticketFromJson(v: unknown, path: string): ResumptionTicket {
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string') throw new Error(`${path}: ticket field ${k} is not a string`);
    return o[k] as string;
  };
  const num = (k: string): number => {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new Error(`${path}: ticket field ${k} is not a number`);
    return o[k] as number;
  };
  return {
    ticket: unb64(str('ticket')), psk: unb64(str('psk')), suite: num('suite'), alpn: str('alpn'), receivedAt: num('receivedAt'),
    lifetimeS: num('lifetimeS'), ageAdd: num('ageAdd'), maxEarlyData: num('maxEarlyData'),
    peerKey: typeof o['peerKey'] === 'string' ? unb64(o['peerKey']) : undefined,
    transportParameters: typeof o['transportParameters'] === 'string' ? unb64(o['transportParameters']) : undefined,
  };
}
