import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../codec/errors.js';
import { Alert, TlsAlert } from './alerts.js';

/**
 * TLS 1.3 extensions (RFC 9846 §4.2) used by a QUIC/iroh handshake, plus RFC 7250 certificate
 * types, RFC 7301 ALPN, RFC 6066 server_name and RFC 9001 §8.2 quic_transport_parameters.
 *
 * A message keeps its extensions as an ordered list of raw `{ type, data }` entries; the typed
 * codecs below turn one entry's `data` into a value and back. Decoders throw `DecodeError` on
 * malformed bodies (the engine maps it to decode_error); a duplicate extension in one list is
 * an illegal_parameter (RFC 9846 §4.2: "There MUST NOT be more than one extension of the same
 * type in a given extension block").
 */

export const ExtensionType = {
  server_name: 0,
  supported_groups: 10,
  signature_algorithms: 13,
  application_layer_protocol_negotiation: 16,
  client_certificate_type: 19,
  server_certificate_type: 20,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
  quic_transport_parameters: 0x39,
} as const;

export const TLS13_VERSION = 0x0304;
export const LEGACY_VERSION = 0x0303;
export const NamedGroup = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018 } as const;
export const SignatureScheme = { ed25519: 0x0807 } as const;
/** RFC 9846 §4.2.9: psk_dhe_ke. */
export const PSK_DHE_KE = 1;
/** RFC 6066 §3: NameType host_name. */
export const HOST_NAME = 0;

/** One extension as it travels: its type and its opaque body. */
export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

/** A key_share entry (RFC 9846 §4.2.8). */
export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Uint8Array;
}

/**
 * Reads `Extension extensions<0..2^16-1>`. Duplicate types: TlsAlert(illegal_parameter).
 * The data views alias the reader's buffer.
 */
export function readExtensions(r: Reader): Extension[] {
  const list = r.sub16();
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (!list.atEnd) {
    const type = list.u16();
    const data = list.vec16();
    if (seen.has(type)) throw new TlsAlert(Alert.illegal_parameter, `duplicate extension ${type}`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function writeExtensions(w: Writer, exts: readonly Extension[]): void {
  const at = w.beginU16();
  for (const e of exts) {
    w.u16(e.type);
    w.vec16(e.data);
  }
  w.endU16(at);
}

/** The body of the extension of `type`, if present. */
export function findExtension(exts: readonly Extension[], type: number): Uint8Array | undefined {
  for (const e of exts) if (e.type === type) return e.data;
  return undefined;
}

// --- typed bodies ------------------------------------------------------------------------------

/** ClientHello supported_versions: `ProtocolVersion versions<2..254>` (RFC 9846 §4.2.1). */
export function encodeSupportedVersionsClient(versions: readonly number[]): Uint8Array {
  return build((w) => {
    const at = w.beginU8();
    for (const v of versions) w.u16(v);
    w.endU8(at);
  });
}

export function decodeSupportedVersionsClient(data: Uint8Array): number[] {
  return parse(data, (r) => u16List(r.sub(r.u8()), 'supported_versions'));
}

/** ServerHello / HelloRetryRequest supported_versions: `ProtocolVersion selected_version`. */
export function encodeSupportedVersionsServer(version: number): Uint8Array {
  return build((w) => w.u16(version));
}

export function decodeSupportedVersionsServer(data: Uint8Array): number {
  return parse(data, (r) => r.u16());
}

/** supported_groups and signature_algorithms: a u16-prefixed list of u16 code points. */
export function encodeU16List(values: readonly number[]): Uint8Array {
  return build((w) => {
    const at = w.beginU16();
    for (const v of values) w.u16(v);
    w.endU16(at);
  });
}

export function decodeU16List(data: Uint8Array, what = 'list'): number[] {
  return parse(data, (r) => u16List(r.sub16(), what));
}

/** ClientHello key_share: `KeyShareEntry client_shares<0..2^16-1>` (may be empty). */
export function encodeKeyShareClient(shares: readonly KeyShareEntry[]): Uint8Array {
  return build((w) => {
    const at = w.beginU16();
    for (const s of shares) writeKeyShareEntry(w, s);
    w.endU16(at);
  });
}

export function decodeKeyShareClient(data: Uint8Array): KeyShareEntry[] {
  return parse(data, (r) => {
    const list = r.sub16();
    const out: KeyShareEntry[] = [];
    while (!list.atEnd) out.push(readKeyShareEntry(list));
    return out;
  });
}

/** ServerHello key_share: one `KeyShareEntry server_share`. */
export function encodeKeyShareServer(share: KeyShareEntry): Uint8Array {
  return build((w) => writeKeyShareEntry(w, share));
}

export function decodeKeyShareServer(data: Uint8Array): KeyShareEntry {
  return parse(data, readKeyShareEntry);
}

/** HelloRetryRequest key_share: `NamedGroup selected_group`. */
export function encodeKeyShareHrr(group: number): Uint8Array {
  return build((w) => w.u16(group));
}

export function decodeKeyShareHrr(data: Uint8Array): number {
  return parse(data, (r) => r.u16());
}

/** ALPN (RFC 7301 §3.1): `ProtocolName protocol_name_list<2..2^16-1>`, names `<1..2^8-1>`. */
export function encodeAlpn(protocols: readonly Uint8Array[]): Uint8Array {
  return build((w) => {
    const at = w.beginU16();
    for (const p of protocols) {
      if (p.length === 0 || p.length > 255) throw new RangeError('ALPN protocol name must be 1..255 bytes');
      w.vec8(p);
    }
    w.endU16(at);
  });
}

export function decodeAlpn(data: Uint8Array): Uint8Array[] {
  return parse(data, (r) => {
    const list = r.sub16();
    const out: Uint8Array[] = [];
    while (!list.atEnd) {
      const name = list.vec8();
      if (name.length === 0) throw new DecodeError('empty ALPN protocol name');
      out.push(name);
    }
    if (out.length === 0) throw new DecodeError('empty ALPN protocol list');
    return out;
  });
}

/** server_name (RFC 6066 §3) with one host_name. */
export function encodeServerName(host: Uint8Array): Uint8Array {
  return build((w) => {
    const at = w.beginU16();
    w.u8(HOST_NAME);
    w.vec16(host);
    w.endU16(at);
  });
}

/**
 * The host_name of a ClientHello server_name, or undefined when it names none. An empty body
 * is what a server echoes in EncryptedExtensions; that also decodes to undefined.
 */
export function decodeServerName(data: Uint8Array): Uint8Array | undefined {
  if (data.length === 0) return undefined;
  return parse(data, (r) => {
    const list = r.sub16();
    let host: Uint8Array | undefined;
    if (list.atEnd) throw new DecodeError('empty server_name list');
    while (!list.atEnd) {
      const type = list.u8();
      const name = list.vec16();
      if (type === HOST_NAME) {
        if (name.length === 0) throw new DecodeError('empty host_name');
        if (host !== undefined) throw new DecodeError('two host_name entries');
        host = name;
      }
    }
    return host;
  });
}

/** ClientHello client/server_certificate_type (RFC 7250 §4): `CertificateType types<1..2^8-1>`. */
export function encodeCertTypesClient(types: readonly number[]): Uint8Array {
  return build((w) => {
    const at = w.beginU8();
    for (const t of types) w.u8(t);
    w.endU8(at);
  });
}

export function decodeCertTypesClient(data: Uint8Array): number[] {
  return parse(data, (r) => {
    const list = r.vec8();
    if (list.length === 0) throw new DecodeError('empty certificate type list');
    return Array.from(list);
  });
}

/** EncryptedExtensions certificate type: one `CertificateType`. */
export function encodeCertTypeServer(type: number): Uint8Array {
  return Uint8Array.of(type);
}

export function decodeCertTypeServer(data: Uint8Array): number {
  return parse(data, (r) => r.u8());
}

/** psk_key_exchange_modes (RFC 9846 §4.2.9): `PskKeyExchangeMode ke_modes<1..255>`. */
export function encodePskModes(modes: readonly number[]): Uint8Array {
  return build((w) => {
    const at = w.beginU8();
    for (const m of modes) w.u8(m);
    w.endU8(at);
  });
}

export function decodePskModes(data: Uint8Array): number[] {
  return parse(data, (r) => {
    const list = r.vec8();
    if (list.length === 0) throw new DecodeError('empty psk_key_exchange_modes');
    return Array.from(list);
  });
}

/** cookie (RFC 9846 §4.2.2): `opaque cookie<1..2^16-1>`. */
export function encodeCookie(cookie: Uint8Array): Uint8Array {
  if (cookie.length === 0) throw new RangeError('cookie must not be empty');
  return build((w) => w.vec16(cookie));
}

export function decodeCookie(data: Uint8Array): Uint8Array {
  return parse(data, (r) => {
    const c = r.vec16();
    if (c.length === 0) throw new DecodeError('empty cookie');
    return c;
  });
}

// --- helpers -----------------------------------------------------------------------------------

function build(fn: (w: Writer) => void): Uint8Array {
  const w = Writer.growable(64);
  fn(w);
  return w.bytes().slice();
}

/** Runs a decoder over a whole extension body: trailing bytes are malformed. */
function parse<T>(data: Uint8Array, fn: (r: Reader) => T): T {
  const r = new Reader(data);
  const v = fn(r);
  r.expectEnd('extension body');
  return v;
}

function u16List(list: Reader, what: string): number[] {
  if (list.remaining === 0) throw new DecodeError(`empty ${what}`);
  if (list.remaining % 2 !== 0) throw new DecodeError(`odd length of ${what}`);
  const out: number[] = [];
  while (!list.atEnd) out.push(list.u16());
  return out;
}

function writeKeyShareEntry(w: Writer, s: KeyShareEntry): void {
  w.u16(s.group);
  w.vec16(s.keyExchange);
}

function readKeyShareEntry(r: Reader): KeyShareEntry {
  const group = r.u16();
  const keyExchange = r.vec16();
  if (keyExchange.length === 0) throw new DecodeError('empty key_exchange');
  return { group, keyExchange };
}
