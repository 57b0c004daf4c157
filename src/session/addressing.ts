import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../codec/ip.js';
import { EndpointId, InvalidEndpointIdError, PUBLIC_KEY_LENGTH, base32Decode, base32Encode } from '../tls/identity.js';

/**
 * Addressing as iroh does it: how a remote endpoint is named, and iroh's endpoint tickets.
 *
 * An `EndpointAddr` is an endpoint id plus the direct UDP socket addresses it may be reached at
 * (`'ip:port'`, IPv6 as `'[::1]:443'`, always in the canonical form `formatSocketAddr` prints) and
 * the relay URLs it advertises. We cannot use relays yet, but we keep them so that a ticket
 * decoded and encoded again loses nothing.
 *
 * A ticket is `"endpoint"` + lowercase RFC 4648 base32 (no padding) of postcard bytes:
 *
 *     00 (TicketWireFormat variant) ‖ 32-byte id ‖ varint count ‖ count × TransportAddr
 *     TransportAddr = 00 ‖ varint len ‖ relay URL (UTF-8)            (Relay)
 *                   | 01 ‖ 00 ‖ 4-byte IPv4 ‖ varint port            (Ip, V4)
 *                   | 01 ‖ 01 ‖ 16-byte IPv6 ‖ varint port           (Ip, V6)
 *
 * Postcard varints are unsigned LEB128 (7 bits a byte, least significant group first). iroh keeps
 * the addresses in a `BTreeSet<TransportAddr>`, so a ticket lists them in Rust's derived order:
 * relays first (variant 0 < 1), sorted by URL text; then IPv4 before IPv6 (`SocketAddr::V4` <
 * `V6`), each by address bytes, then port. A ticket made by iroh 1.0.2 itself (127.0.0.1:1024
 * before [::1]:443) and the format's own test in iroh (the relay before 127.0.0.1:1024) show it.
 *
 * Older tickets (iroh < 1.0, `NodeTicket`) start with `"node"` and use the legacy layout:
 *
 *     00 ‖ 32-byte id ‖ Option<relay URL> (00 | 01 ‖ varint len ‖ URL) ‖ varint count ‖
 *     count × SocketAddr (00 ‖ IPv4 ‖ varint port | 01 ‖ IPv6 ‖ varint port)
 *
 * `decodeEndpointTicket` reads that layout for a `node` ticket (and, failing that, the current
 * one); tickets are always written in the current layout with the `endpoint` prefix.
 *
 * Everything here is pure (no I/O, no clock) and every malformed input throws an
 * `InvalidRemoteError` saying which form was recognised and what was wrong with it.
 */

// ---------------------------------------------------------------------------------------------
// Public types.

/** A remote endpoint: its id, direct socket addresses and relay URLs. */
export interface EndpointAddr {
  /** The remote's endpoint id (its Ed25519 public key). */
  readonly id: EndpointId;
  /** Direct UDP addresses, `'ip:port'` / `'[ipv6]:port'`. */
  readonly addrs: readonly string[];
  /** Relay URLs (not usable yet, kept for tickets). Absent means none. */
  readonly relays?: readonly string[];
}

/** A parsed socket address. `host` is the bare IP (IPv6 without brackets), canonical form. */
export interface SocketAddr {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Which input form was recognised when parsing failed. */
export type RemoteForm = 'id' | 'id@addr' | 'ticket' | 'json' | 'address' | 'unknown';

/** What was wrong. */
export type InvalidRemoteReason =
  | 'id' // not an endpoint id (length, characters, or not an Ed25519 point)
  | 'ip' // not an IP address (or a host name, which we do not resolve)
  | 'port' // missing, non-numeric, out of range or zero port
  | 'syntax' // the form's punctuation is wrong (missing ':' or brackets, bad JSON shape, ...)
  | 'prefix' // a ticket without the `endpoint` / `node` prefix
  | 'base32' // the ticket body is not strict unpadded base32
  | 'truncated' // the ticket bytes end inside a field
  | 'trailing' // bytes left over after the ticket
  | 'variant' // an enum tag we do not know
  | 'varint' // a postcard varint too long or too large for its type
  | 'length' // a count or length larger than the bytes left
  | 'relay'; // a relay URL that is not UTF-8 or not a URL

/** A remote (id, address, ticket) that cannot be parsed. */
export class InvalidRemoteError extends Error {
  /** Always `'InvalidRemoteError'`. */
  override readonly name = 'InvalidRemoteError';
  /** Which form of remote the input was taken for. */
  readonly form: RemoteForm;
  /** What was wrong with it. */
  readonly reason: InvalidRemoteReason;

  constructor(form: RemoteForm, reason: InvalidRemoteReason, message: string, cause?: unknown) {
    super(`invalid ${FORM_LABEL[form]}: ${message}`, cause === undefined ? undefined : { cause });
    this.form = form;
    this.reason = reason;
  }
}

const FORM_LABEL: Record<RemoteForm, string> = {
  id: 'endpoint id',
  'id@addr': 'remote "id@ip:port"',
  ticket: 'endpoint ticket',
  json: 'JSON ticket',
  address: 'socket address',
  unknown: 'remote',
};

/** The prefix of current tickets, and of the older iroh `NodeTicket`. */
export const TICKET_PREFIX = 'endpoint';
export const LEGACY_TICKET_PREFIX = 'node';

// ---------------------------------------------------------------------------------------------
// Remote parsing.

/**
 * Parses what a user may give to name a remote endpoint:
 *  - a bare id: 64 hex digits or 52 base32 characters, any case;
 *  - `id@ip:port` or `id@[ipv6]:port`;
 *  - an `endpoint…` ticket (or an older `node…` one);
 *  - an iroh-http JSON ticket `{"id":"<base32 or hex>","addrs":["ip:port", ...]}` (other keys
 *    are ignored).
 * `extraAddrs` (socket addresses) are appended; addresses are normalised and deduplicated, in
 * first-seen order. Direct addresses typed by the user must have a non-zero port; those inside
 * a ticket are taken as they are. Throws `InvalidRemoteError`.
 */
export function parseRemote(input: string, extraAddrs: readonly string[] = []): EndpointAddr {
  const s = input.trim();
  let base: EndpointAddr;
  if (s.length === 0) {
    throw new InvalidRemoteError('unknown', 'syntax', 'empty input');
  } else if (s.startsWith('{')) {
    base = parseJsonTicket(s);
  } else if (s.includes('@')) {
    base = parseIdAtAddr(s);
  } else if (s.length !== BASE32_ID_LENGTH && hasTicketPrefix(s)) {
    // A 52-character string is always an id (the shortest ticket is longer), even one whose
    // base32 happens to start with "node".
    base = decodeEndpointTicket(s);
  } else if (s.length === BASE32_ID_LENGTH || s.length === HEX_ID_LENGTH) {
    base = { id: parseId(s, 'id'), addrs: [], relays: [] };
  } else {
    throw new InvalidRemoteError(
      'unknown',
      'syntax',
      `"${clip(s)}" is neither an endpoint id (64 hex digits or 52 base32 characters), an ` +
        `"id@ip:port", an "endpoint…" ticket nor a JSON ticket`,
    );
  }
  const extra = extraAddrs.map((a) => normalizeDialAddr(a, 'address'));
  return { id: base.id, addrs: dedupe([...base.addrs, ...extra]), relays: [...(base.relays ?? [])] };
}

// ---------------------------------------------------------------------------------------------
// Tickets.

/** The `endpoint…` ticket of an address (addresses normalised, deduplicated and sorted). */
export function encodeEndpointTicket(addr: EndpointAddr): string {
  const a = addr as Partial<EndpointAddr> | null | undefined;
  if (typeof a !== 'object' || a === null || !(a.id instanceof EndpointId) || !Array.isArray(a.addrs) || (a.relays !== undefined && !Array.isArray(a.relays))) {
    throw new InvalidRemoteError('unknown', 'syntax', 'encodeEndpointTicket takes an EndpointAddr { id: EndpointId, addrs: string[], relays?: string[] }');
  }
  return TICKET_PREFIX + base32Encode(encodeEndpointTicketBytes(addr));
}

/**
 * Decodes an `endpoint…` ticket (or a legacy `node…` one). Only the prefix is case-sensitive
 * (lowercase, as iroh writes and requires it); the base32 body may be in any case. The result
 * lists relays and addresses in the ticket's order, deduplicated (iroh reads them into a set).
 * Throws `InvalidRemoteError`.
 */
export function decodeEndpointTicket(ticket: string): EndpointAddr {
  if (typeof ticket !== 'string') throw new InvalidRemoteError('ticket', 'syntax', `a ticket is a string, got ${ticket === null ? 'null' : typeof ticket}`);
  const s = ticket.trim();
  let legacy: boolean;
  let body: string;
  if (s.startsWith(TICKET_PREFIX)) {
    legacy = false;
    body = s.slice(TICKET_PREFIX.length);
  } else if (s.startsWith(LEGACY_TICKET_PREFIX)) {
    legacy = true;
    body = s.slice(LEGACY_TICKET_PREFIX.length);
  } else {
    throw new InvalidRemoteError('ticket', 'prefix', `"${clip(s)}" does not start with "endpoint" or "node"`);
  }
  let bytes: Uint8Array;
  try {
    bytes = base32Decode(body);
  } catch (e) {
    throw new InvalidRemoteError('ticket', 'base32', `body is not base32: ${errorText(e)}`, e);
  }
  if (!legacy) return decodeEndpointTicketBytes(bytes);
  try {
    return decodeLegacyTicketBytes(bytes);
  } catch (legacyError) {
    // Nothing writes the current layout under the old prefix, but accepting it costs nothing.
    try {
      return decodeEndpointTicketBytes(bytes);
    } catch {
      throw legacyError;
    }
  }
}

/** The postcard bytes of a ticket (without prefix and base32). */
export function encodeEndpointTicketBytes(addr: EndpointAddr): Uint8Array {
  const relays = dedupe((addr.relays ?? []).map((r) => normalizeRelayUrl(r, 'ticket')));
  const ips = dedupe(addr.addrs.map((a) => formatSocketAddr(parseSocketAddr(a))))
    .map((a) => ipKey(parseSocketAddr(a)));
  const relayBytes = relays.map((r) => UTF8_ENCODER.encode(r));
  relayBytes.sort(compareBytes);
  ips.sort((a, b) => compareBytes(a.key, b.key));

  const out: number[] = [TICKET_VARIANT];
  pushBytes(out, addr.id.bytes);
  writeLeb128(out, relayBytes.length + ips.length);
  for (const r of relayBytes) {
    writeLeb128(out, TRANSPORT_RELAY);
    writeLeb128(out, r.length);
    pushBytes(out, r);
  }
  for (const ip of ips) {
    writeLeb128(out, TRANSPORT_IP);
    writeSocketAddr(out, ip.addr);
  }
  return Uint8Array.from(out);
}

/** Decodes the postcard bytes of a current-layout ticket. Throws `InvalidRemoteError`. */
export function decodeEndpointTicketBytes(bytes: Uint8Array): EndpointAddr {
  const c = new TicketCursor(bytes);
  const variant = c.leb128(32, 'ticket variant');
  if (variant !== TICKET_VARIANT) c.fail('variant', `unknown ticket variant ${variant} (expected 0)`);
  const id = c.id();
  const count = c.count('address count', MIN_TRANSPORT_ADDR_LEN);
  const addrs: string[] = [];
  const relays: string[] = [];
  for (let i = 0; i < count; i++) {
    const tag = c.leb128(32, 'transport address variant');
    if (tag === TRANSPORT_RELAY) relays.push(c.relayUrl());
    else if (tag === TRANSPORT_IP) addrs.push(c.socketAddr());
    else c.fail('variant', `unknown transport address variant ${tag} (0 relay, 1 ip; custom transports are not supported)`);
  }
  c.end();
  return { id, addrs: dedupe(addrs), relays: dedupe(relays) };
}

// ---------------------------------------------------------------------------------------------
// Socket addresses.

/**
 * Parses `a.b.c.d:port` (strict dotted quad: no leading zeros) or `[ipv6]:port` (RFC 4291 §2.2
 * text forms, including a trailing dotted quad; no zone index). Ports are decimal, 0-65535,
 * without sign or leading zeros. Host names are not accepted (nothing is resolved here).
 * Throws `InvalidRemoteError` (form 'address').
 */
export function parseSocketAddr(s: string): SocketAddr {
  return parseSocketAddrAs(s, 'address');
}

/** `host:port`, with IPv6 hosts in brackets. The host is printed as given. */
export function formatSocketAddr(a: { readonly host: string; readonly port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The canonical text of a socket address (IPv6 per RFC 5952). Throws `InvalidRemoteError`. */
export function normalizeSocketAddr(s: string): string {
  return formatSocketAddr(parseSocketAddr(s));
}

// ---------------------------------------------------------------------------------------------
// Helpers: remote forms.

function parseSocketAddrAs(s: string, form: RemoteForm): SocketAddr {
  let hostText: string;
  let portText: string;
  let family: 4 | 6;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new InvalidRemoteError(form, 'syntax', `"${clip(s)}": missing "]" after the IPv6 address`);
    if (s[close + 1] !== ':') throw new InvalidRemoteError(form, 'port', `"${clip(s)}": missing ":port" after "]"`);
    hostText = s.slice(1, close);
    portText = s.slice(close + 2);
    family = 6;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) throw new InvalidRemoteError(form, 'port', `"${clip(s)}": missing ":port"`);
    hostText = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (hostText.includes(':')) {
      throw new InvalidRemoteError(form, 'syntax', `"${clip(s)}": an IPv6 address must be in brackets, as "[::1]:443"`);
    }
    family = 4;
  }
  const port = parsePort(portText, s, form);
  if (family === 4) {
    const b = parseIpv4(hostText);
    if (!b) {
      const why = /[a-zA-Z]/.test(hostText) ? ' (host names are not resolved: give an IP address)' : '';
      throw new InvalidRemoteError(form, 'ip', `"${clip(hostText)}" is not an IPv4 address${why}`);
    }
    return { host: formatIpv4(b), port, family };
  }
  if (hostText.includes('%')) throw new InvalidRemoteError(form, 'ip', `"${clip(hostText)}": zone indices are not supported`);
  const b = parseIpv6(hostText);
  if (!b) throw new InvalidRemoteError(form, 'ip', `"${clip(hostText)}" is not an IPv6 address`);
  return { host: formatIpv6(b), port, family };
}

const HEX_ID_LENGTH = 2 * PUBLIC_KEY_LENGTH;
const BASE32_ID_LENGTH = 52;

function hasTicketPrefix(s: string): boolean {
  return s.startsWith(TICKET_PREFIX) || s.startsWith(LEGACY_TICKET_PREFIX);
}

function parseId(text: string, form: RemoteForm): EndpointId {
  try {
    return EndpointId.parse(text);
  } catch (e) {
    if (e instanceof InvalidEndpointIdError) throw new InvalidRemoteError(form, 'id', e.message, e);
    throw e;
  }
}

function parseIdAtAddr(s: string): EndpointAddr {
  const at = s.indexOf('@');
  const id = parseId(s.slice(0, at), 'id@addr');
  return { id, addrs: [normalizeDialAddr(s.slice(at + 1), 'id@addr')], relays: [] };
}

function parseJsonTicket(s: string): EndpointAddr {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (e) {
    throw new InvalidRemoteError('json', 'syntax', `not JSON: ${errorText(e)}`, e);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidRemoteError('json', 'syntax', 'expected an object {"id": ..., "addrs": [...]}');
  }
  const o = v as Record<string, unknown>;
  if (typeof o['id'] !== 'string') throw new InvalidRemoteError('json', 'syntax', '"id" must be a string');
  const id = parseId(o['id'], 'json');
  const raw = o['addrs'] ?? [];
  if (!Array.isArray(raw) || !raw.every((a): a is string => typeof a === 'string')) {
    throw new InvalidRemoteError('json', 'syntax', '"addrs" must be an array of "ip:port" strings');
  }
  return { id, addrs: raw.map((a) => normalizeDialAddr(a, 'json')), relays: [] };
}

/** A direct address typed by a user, to dial: port 0 is refused. */
function normalizeDialAddr(s: string, form: RemoteForm): string {
  const a = parseSocketAddrAs(s.trim(), form);
  if (a.port === 0) throw new InvalidRemoteError(form, 'port', `"${clip(s)}": port 0 cannot be dialled`);
  return formatSocketAddr(a);
}

function normalizeRelayUrl(s: string, form: RemoteForm): string {
  try {
    // iroh keeps a relay as a parsed `url::Url` and writes its serialisation; both it and the
    // WHATWG URL parser implement the URL Standard, so `href` is the same text.
    return new URL(s).href;
  } catch (e) {
    throw new InvalidRemoteError(form, 'relay', `"${clip(s)}" is not a URL`, e);
  }
}

function parsePort(text: string, whole: string, form: RemoteForm): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) {
    throw new InvalidRemoteError(form, 'port', `"${clip(whole)}": port "${clip(text)}" is not a decimal number`);
  }
  const port = Number(text);
  if (port > 0xffff) throw new InvalidRemoteError(form, 'port', `"${clip(whole)}": port ${port} is above 65535`);
  return port;
}

// ---------------------------------------------------------------------------------------------
// Helpers: the postcard codec.

const TICKET_VARIANT = 0;
const TRANSPORT_RELAY = 0;
const TRANSPORT_IP = 1;
const SOCKET_V4 = 0;
const SOCKET_V6 = 1;
/** The smallest encoded TransportAddr: a relay tag and a (zero) length. */
const MIN_TRANSPORT_ADDR_LEN = 2;
/** The smallest encoded legacy SocketAddr: tag, 4 bytes, 1-byte port. */
const MIN_SOCKET_ADDR_LEN = 6;

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });

/** A read cursor over ticket bytes whose every failure is an `InvalidRemoteError`. */
class TicketCursor {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  fail(reason: InvalidRemoteReason, message: string): never {
    throw new InvalidRemoteError('ticket', reason, `${message} (at byte ${this.pos} of ${this.buf.length})`);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(what: string): number {
    if (this.pos >= this.buf.length) this.fail('truncated', `ends before the ${what}`);
    return this.buf[this.pos++]!;
  }

  bytes(n: number, what: string): Uint8Array {
    if (this.remaining < n) this.fail('truncated', `ends inside the ${what} (${n} bytes, ${this.remaining} left)`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /**
   * A postcard varint of a `bits`-wide unsigned integer (LEB128, at most ceil(bits / 7) bytes,
   * the last one holding only the bits that remain). Postcard accepts non-minimal encodings
   * (`80 00` for 0), so this does too. Values above 2^53 are only compared against bounds.
   */
  leb128(bits: 16 | 32 | 64, what: string): number {
    const maxBytes = Math.ceil(bits / 7);
    let value = 0;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (i === maxBytes - 1 && b >= 2 ** (bits - 7 * i)) this.fail('varint', `${what} does not fit in ${bits} bits`);
        return value;
      }
    }
    return this.fail('varint', `${what} varint is longer than ${maxBytes} bytes`);
  }

  /** A usize count or length, checked against the bytes left (`unit` bytes per item at least). */
  count(what: string, unit: number): number {
    const n = this.leb128(64, what);
    if (n * unit > this.remaining) this.fail('length', `${what} ${n} is more than the ${this.remaining} bytes left hold`);
    return n;
  }

  id(): EndpointId {
    const b = this.bytes(PUBLIC_KEY_LENGTH, 'endpoint id');
    try {
      return EndpointId.fromBytes(b);
    } catch (e) {
      if (e instanceof InvalidEndpointIdError) throw new InvalidRemoteError('ticket', 'id', e.message, e);
      throw e;
    }
  }

  relayUrl(): string {
    const len = this.count('relay URL length', 1);
    const raw = this.bytes(len, 'relay URL');
    let text: string;
    try {
      text = UTF8_DECODER.decode(raw);
    } catch (e) {
      return this.fail('relay', `relay URL is not UTF-8 (${errorText(e)})`);
    }
    return normalizeRelayUrl(text, 'ticket');
  }

  /** Rust's `SocketAddr` as serde writes it to a binary format: variant, IP bytes, u16 port. */
  socketAddr(): string {
    const family = this.leb128(32, 'socket address variant');
    let host: string;
    if (family === SOCKET_V4) host = formatIpv4(this.bytes(4, 'IPv4 address'));
    else if (family === SOCKET_V6) host = formatIpv6(this.bytes(16, 'IPv6 address'));
    else return this.fail('variant', `unknown socket address variant ${family} (0 IPv4, 1 IPv6)`);
    return formatSocketAddr({ host, port: this.leb128(16, 'port') });
  }

  end(): void {
    if (this.remaining !== 0) this.fail('trailing', `${this.remaining} trailing bytes after the ticket`);
  }
}

/** The legacy `NodeTicket` layout (iroh < 1.0): optional relay, then a set of SocketAddr. */
function decodeLegacyTicketBytes(bytes: Uint8Array): EndpointAddr {
  const c = new TicketCursor(bytes);
  const variant = c.leb128(32, 'ticket variant');
  if (variant !== TICKET_VARIANT) c.fail('variant', `unknown node ticket variant ${variant} (expected 0)`);
  const id = c.id();
  // A serde Option is one tag byte in postcard (not a varint): 0 none, 1 some.
  const tag = c.u8('relay option');
  const relays: string[] = [];
  if (tag === 1) relays.push(c.relayUrl());
  else if (tag !== 0) c.fail('variant', `relay option tag ${tag} is neither 0 nor 1`);
  const count = c.count('address count', MIN_SOCKET_ADDR_LEN);
  const addrs: string[] = [];
  for (let i = 0; i < count; i++) addrs.push(c.socketAddr());
  c.end();
  return { id, addrs: dedupe(addrs), relays };
}

/** Appends `v` (a non-negative safe integer) as unsigned LEB128. */
function writeLeb128(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function writeSocketAddr(out: number[], a: SocketAddr): void {
  if (a.family === 4) {
    writeLeb128(out, SOCKET_V4);
    pushBytes(out, parseIpv4(a.host)!);
  } else {
    writeLeb128(out, SOCKET_V6);
    pushBytes(out, parseIpv6(a.host)!);
  }
  writeLeb128(out, a.port);
}

/**
 * The sort key of an IP transport address: Rust's derived `Ord` on `SocketAddr` compares the
 * variant (V4 < V6), then the address (as its bytes, big-endian), then the port.
 */
function ipKey(addr: SocketAddr): { addr: SocketAddr; key: Uint8Array } {
  const ip = addr.family === 4 ? parseIpv4(addr.host)! : parseIpv6(addr.host)!;
  const key = new Uint8Array(1 + ip.length + 2);
  key[0] = addr.family === 4 ? 0 : 1;
  key.set(ip, 1);
  key[ip.length + 1] = addr.port >>> 8;
  key[ip.length + 2] = addr.port & 0xff;
  return { addr, key };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function pushBytes(out: number[], b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) out.push(b[i]!);
}

// ---------------------------------------------------------------------------------------------
// Helpers: misc.

function dedupe(items: readonly string[]): string[] {
  return [...new Set(items)];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function clip(s: string): string {
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
}
