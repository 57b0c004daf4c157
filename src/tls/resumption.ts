import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../codec/errors.js';
import { hashLength, hkdfExpandLabel } from './hkdf.js';
import type { Random } from './random.js';
import type { HashName } from './suites.js';
import type { StrikeRegister } from './anti-replay.js';

/**
 * Session resumption (RFC 9846 §2.2, §4.2.11, §4.6.1): what a client keeps of a NewSessionTicket,
 * the server's stateless ticket format, and the pre_shared_key extension's codecs.
 *
 * A server keeps no state per ticket: the ticket is the session state (suite, ALPN, PSK, the
 * client's identity, issue time) sealed with AES-256-GCM under a ticket key. Keys rotate
 * (`TicketKeys.rotate`): a new key seals, the previous one still opens, older ones are gone, so
 * a ticket lives at most two rotation periods whatever its stated lifetime.
 *
 *   sealed ticket: key id (4) | iv (12) | AES-256-GCM(state) | tag (16), AAD = key id
 *   state: version 1 (1) | suite (2) | issued ms (8) | age_add (4) | lifetime s (4) |
 *          max_early_data (4) | alpn<1> | psk<1> | peer key<1> | transport params<2>
 */

/** What a client stores of a NewSessionTicket to offer it later (RFC 9846 §4.6.1). */
export interface ResumptionTicket {
  /** The opaque ticket, the PSK identity. */
  readonly ticket: Uint8Array;
  /** HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length). */
  readonly psk: Uint8Array;
  /** The cipher suite of the session: a resumption must use one with the same hash. */
  readonly suite: number;
  /** The ALPN of the session (RFC 9846 §4.6.1: early data only for the same). */
  readonly alpn: string;
  /** When the ticket arrived (ms, the client's clock). */
  readonly receivedAt: number;
  /** How long it may be used after that (s, as the server said, capped at 7 days). */
  readonly lifetimeS: number;
  /** ticket_age_add, added to the age sent in obfuscated_ticket_age. */
  readonly ageAdd: number;
  /** The early_data extension's max_early_data_size (0: no 0-RTT with this ticket). */
  readonly maxEarlyData: number;
  /** The server's Ed25519 key authenticated in the original handshake (its endpoint id in RPK mode). */
  readonly peerKey: Uint8Array | undefined;
  /** The server's transport parameters of the original connection (RFC 9000 §7.4.1), opaque. */
  readonly transportParameters: Uint8Array | undefined;
  /** X.509 mode: the server's chain verified in the original handshake (DER, leaf first). */
  readonly peerChain?: readonly Uint8Array[];
  /** X.509 mode: the SNI of the original handshake; offered only with the same. */
  readonly serverName?: string;
}

/** True while `t` may be offered at `now` (ms): within its lifetime, and never beyond 7 days (RFC 9846 §4.6.1). */
export function ticketUsable(t: ResumptionTicket, now: number): boolean {
  const age = now - t.receivedAt;
  return age >= 0 && age < Math.min(t.lifetimeS, MAX_TICKET_LIFETIME_S) * 1000;
}

/** RFC 9846 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)". */
export const MAX_TICKET_LIFETIME_S = 604800;

/** The PSK of a ticket (RFC 9846 §4.6.1). */
export function resumptionPsk(hash: HashName, resumptionMaster: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, resumptionMaster, 'resumption', nonce, hashLength(hash));
}

/** The session state a server seals into a ticket. */
export interface TicketState {
  readonly suite: number;
  readonly issuedAt: number;
  readonly ageAdd: number;
  readonly lifetimeS: number;
  readonly maxEarlyData: number;
  readonly alpn: string;
  readonly psk: Uint8Array;
  /** The client's Ed25519 key, when it authenticated with one (RPK mode): its endpoint id. */
  readonly peerKey: Uint8Array | undefined;
  /** Our transport parameters of that connection (0-RTT must not exceed them, RFC 9000 §7.4.1). */
  readonly transportParameters: Uint8Array | undefined;
}

const KEY_ID_LEN = 4;
const IV_LEN = 12;
const TAG_LEN = 16;

/**
 * A server's ticket keys. `rotate(now)` starts a new key once the current one is `rotationMs`
 * old (and `rotateNow()` at once); the previous key keeps opening tickets until the next
 * rotation. Keys live only in memory: a restarted server cannot open its old tickets (the client
 * then does a full handshake).
 */
export class TicketKeys {
  readonly rotationMs: number;
  private readonly random: Random;
  private current: { readonly id: Uint8Array; readonly key: Uint8Array; readonly since: number };
  private previous: { readonly id: Uint8Array; readonly key: Uint8Array } | undefined;

  constructor(random: Random, now: number, rotationMs = 12 * 3600 * 1000) {
    if (!(rotationMs > 0)) throw new RangeError('rotationMs must be positive');
    this.random = random;
    this.rotationMs = rotationMs;
    this.current = this.newKey(now);
  }

  /** Rotates when the current key is old enough. */
  rotate(now: number): void {
    if (now - this.current.since >= this.rotationMs) this.rotateNow(now);
  }

  /** Starts a new key; the one before it still opens, the one before that no longer does. */
  rotateNow(now: number): void {
    this.previous = this.current;
    this.current = this.newKey(now);
  }

  seal(state: TicketState): Uint8Array {
    const w = Writer.growable(160);
    w.u8(1);
    w.u16(state.suite);
    w.u32(Math.floor(state.issuedAt / 0x100000000));
    w.u32(state.issuedAt >>> 0);
    w.u32(state.ageAdd >>> 0);
    w.u32(state.lifetimeS);
    w.u32(state.maxEarlyData >>> 0);
    w.vec8(new TextEncoder().encode(state.alpn));
    w.vec8(state.psk);
    w.vec8(state.peerKey ?? new Uint8Array(0));
    w.vec16(state.transportParameters ?? new Uint8Array(0));
    const plain = w.bytes();
    const { id, key } = this.current;
    const iv = this.random.fill(new Uint8Array(IV_LEN));
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(id);
    const body = c.update(plain);
    c.final();
    const out = new Uint8Array(KEY_ID_LEN + IV_LEN + body.length + TAG_LEN);
    out.set(id, 0);
    out.set(iv, KEY_ID_LEN);
    out.set(body, KEY_ID_LEN + IV_LEN);
    out.set(c.getAuthTag(), KEY_ID_LEN + IV_LEN + body.length);
    return out;
  }

  /** The state in `ticket`, or undefined when no key of ours opens it (forged, altered, rotated out). */
  open(ticket: Uint8Array): TicketState | undefined {
    if (ticket.length < KEY_ID_LEN + IV_LEN + TAG_LEN + 1) return undefined;
    const id = ticket.subarray(0, KEY_ID_LEN);
    const k = [this.current, this.previous].find((x) => x !== undefined && sameBytes(x.id, id));
    if (!k) return undefined;
    let plain: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', k.key, ticket.subarray(KEY_ID_LEN, KEY_ID_LEN + IV_LEN));
      d.setAAD(id);
      d.setAuthTag(ticket.subarray(ticket.length - TAG_LEN));
      plain = Buffer.concat([d.update(ticket.subarray(KEY_ID_LEN + IV_LEN, ticket.length - TAG_LEN)), d.final()]);
    } catch {
      return undefined;
    }
    try {
      const r = new Reader(plain);
      if (r.u8() !== 1) return undefined;
      const suite = r.u16();
      const issuedAt = r.u32() * 0x100000000 + r.u32();
      const ageAdd = r.u32();
      const lifetimeS = r.u32();
      const maxEarlyData = r.u32();
      const alpn = new TextDecoder().decode(r.vec8());
      const psk = r.vec8().slice();
      const pk = r.vec8();
      const tp = r.vec16();
      r.expectEnd('ticket');
      return {
        suite, issuedAt, ageAdd, lifetimeS, maxEarlyData, alpn, psk,
        peerKey: pk.length ? pk.slice() : undefined,
        transportParameters: tp.length ? tp.slice() : undefined,
      };
    } catch (e) {
      if (e instanceof DecodeError) return undefined;
      throw e;
    }
  }

  private newKey(now: number): { id: Uint8Array; key: Uint8Array; since: number } {
    return { id: this.random.fill(new Uint8Array(KEY_ID_LEN)), key: this.random.fill(new Uint8Array(32)), since: now };
  }
}

/** A server's ticket settings (TlsConfig.tickets). */
export interface ServerTickets {
  readonly keys: TicketKeys;
  /** Tickets sent after each full or resumed handshake (0: none). */
  readonly count: number;
  /** Their lifetime in seconds (at most 7 days). */
  readonly lifetimeS: number;
  /** The server's clock (ms). */
  readonly now: () => number;
  /**
   * max_early_data_size announced (0 or absent: no early data). In QUIC any positive value is
   * sent as 0xffffffff, the one value RFC 9001 §4.6.1 allows.
   */
  readonly maxEarlyData?: number;
  /**
   * Early data is accepted at most once per ticket (RFC 9846 §8.1), within the ticket's lifetime;
   * absent: no replay protection (tests only).
   */
  readonly replay?: StrikeRegister;
}

// --- pre_shared_key (RFC 9846 §4.2.11) ---------------------------------------------------------

export interface PskIdentity {
  readonly identity: Uint8Array;
  readonly obfuscatedAge: number;
}

/** The ClientHello pre_shared_key body; returns it and the length of its binders part (which ends the ClientHello). */
export function encodeOfferedPsks(identities: readonly PskIdentity[], binders: readonly Uint8Array[]): { data: Uint8Array; bindersLength: number } {
  const w = Writer.growable(256);
  const at = w.beginU16();
  for (const id of identities) {
    w.vec16(id.identity);
    w.u32(id.obfuscatedAge >>> 0);
  }
  w.endU16(at);
  const before = w.bytes().length;
  const bt = w.beginU16();
  for (const b of binders) w.vec8(b);
  w.endU16(bt);
  const data = w.bytes().slice();
  return { data, bindersLength: data.length - before };
}

export function decodeOfferedPsks(data: Uint8Array): { identities: PskIdentity[]; binders: Uint8Array[]; bindersLength: number } {
  const r = new Reader(data);
  const ids = r.sub16();
  const identities: PskIdentity[] = [];
  while (!ids.atEnd) {
    const identity = ids.vec16();
    if (identity.length === 0) throw new DecodeError('empty PSK identity');
    identities.push({ identity, obfuscatedAge: ids.u32() });
  }
  const bindersLength = r.remaining;
  const bs = r.sub16();
  const binders: Uint8Array[] = [];
  while (!bs.atEnd) {
    const b = bs.vec8();
    if (b.length < 32) throw new DecodeError('PSK binder shorter than 32 bytes');
    binders.push(b);
  }
  r.expectEnd('pre_shared_key');
  if (identities.length === 0 || identities.length !== binders.length) throw new DecodeError('pre_shared_key identities and binders do not pair');
  return { identities, binders, bindersLength };
}

/** ServerHello pre_shared_key: `uint16 selected_identity`. */
export function encodeSelectedPsk(index: number): Uint8Array {
  return Uint8Array.of(index >> 8, index & 0xff);
}

export function decodeSelectedPsk(data: Uint8Array): number {
  if (data.length !== 2) throw new DecodeError('bad pre_shared_key in ServerHello');
  return (data[0]! << 8) | data[1]!;
}

/** early_data (RFC 9846 §4.2.10): empty in ClientHello/EncryptedExtensions, `uint32 max_early_data_size` in NewSessionTicket. */
export function decodeMaxEarlyData(data: Uint8Array): number {
  if (data.length !== 4) throw new DecodeError('bad early_data in NewSessionTicket');
  return ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
}

export function encodeMaxEarlyData(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
