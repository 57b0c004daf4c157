import type { SeededRandom } from '../../src/tls/random.js';
import { Reader } from '../../src/codec/reader.js';
import { Writer } from '../../src/codec/writer.js';
import * as M from '../../src/tls/messages.js';
import type { Extension } from '../../src/tls/extensions.js';
import type { Mutator } from './mutate.js';
import { VARINT_MAX, minWidth, writeVarintWidth } from './fields.js';

/**
 * Structure-aware mutation of TLS handshake messages (RFC 9846 §4) and QUIC transport parameters
 * (RFC 9000 §18): the message is decoded, its extension list (or parameter list) changed as a
 * list (entries dropped, duplicated, swapped, retyped, spliced from another message, their bodies
 * mutated), and encoded again, so the length prefixes stay right and the decoder gets past them
 * to the part that was changed. Falls back to byte-level mutation for what does not decode.
 */
export function mutateTlsMessage(m: Mutator, raw: Uint8Array, donors: readonly Uint8Array[]): Uint8Array {
  const rng = m.rng;
  if (rng.int(3) === 0) return m.bytes(raw);
  const body = raw.subarray(M.HANDSHAKE_HEADER_SIZE);
  try {
    switch (raw[0]) {
      case M.HandshakeType.client_hello: {
        const ch = M.decodeClientHello(body);
        const suites = rng.int(4) === 0 ? [0x1301, 0x1302, 0x1303, 0x00ff, 0x0a0a].slice(0, rng.int(6)) : [...ch.cipherSuites];
        return M.encodeClientHello({ ...ch, cipherSuites: suites, extensions: mutateExtensions(m, ch.extensions, donors) });
      }
      case M.HandshakeType.server_hello: {
        const sh = M.decodeServerHello(body);
        return M.encodeServerHello({ ...sh, extensions: mutateExtensions(m, sh.extensions, donors) });
      }
      case M.HandshakeType.encrypted_extensions: {
        const ee = M.decodeEncryptedExtensions(body);
        return M.encodeEncryptedExtensions({ extensions: mutateExtensions(m, ee.extensions, donors) });
      }
      case M.HandshakeType.certificate_request: {
        const cr = M.decodeCertificateRequest(body);
        return M.encodeCertificateRequest({ ...cr, extensions: mutateExtensions(m, cr.extensions, donors) });
      }
      case M.HandshakeType.certificate: {
        const c = M.decodeCertificate(body);
        const entries = c.entries.map((e) => ({
          data: rng.int(2) === 0 ? m.bytes(e.data) : e.data,
          extensions: rng.int(3) === 0 ? mutateExtensions(m, e.extensions, donors) : e.extensions,
        }));
        if (rng.int(4) === 0) entries.push({ data: entries[0]?.data ?? new Uint8Array(1), extensions: [] });
        if (rng.int(6) === 0) entries.length = 0;
        return M.encodeCertificate({ ...c, entries });
      }
      case M.HandshakeType.certificate_verify: {
        const cv = M.decodeCertificateVerify(body);
        const scheme = rng.int(3) === 0 ? [0x0807, 0x0804, 0x0403, 0xffff][rng.int(4)]! : cv.scheme;
        return M.encodeCertificateVerify({ scheme, signature: rng.int(2) === 0 ? m.bytes(cv.signature) : cv.signature });
      }
      default:
        return m.bytes(raw);
    }
  } catch {
    return m.bytes(raw);
  }
}

function mutateExtensions(m: Mutator, exts: readonly Extension[], donors: readonly Uint8Array[]): Extension[] {
  const rng = m.rng;
  const out = exts.map((e) => ({ type: e.type, data: e.data }));
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const at = rng.int(Math.max(1, out.length));
    const e = out[at];
    switch (rng.int(7)) {
      case 0:
        if (e) out.splice(at, 1);
        break;
      case 1:
        if (e) out.push({ ...e }); // duplicate: RFC 9846 §4.2 illegal_parameter
        break;
      case 2:
        if (e) e.type = [0, 10, 13, 16, 19, 20, 41, 42, 43, 44, 45, 51, 0x39, 0xfe0d, rng.int(0x10000)][rng.int(15)]!;
        break;
      case 3: {
        const d = donors[rng.int(donors.length)];
        if (d) {
          // An extension of another message (a ClientHello's key_share in an EncryptedExtensions, ...).
          const other = extensionsOf(d);
          const x = other[rng.int(Math.max(1, other.length))];
          if (x && !out.some((y) => y.type === x.type)) out.splice(at, 0, { ...x });
        }
        break;
      }
      case 4:
        if (e && e.type === 0x39) e.data = mutateTransportParams(m, e.data);
        else if (e) e.data = m.bytes(e.data);
        break;
      case 5:
        if (e) e.data = new Uint8Array(0);
        break;
      default:
        if (e) e.data = m.bytes(e.data);
    }
  }
  return out;
}

function extensionsOf(raw: Uint8Array): readonly Extension[] {
  const body = raw.subarray(M.HANDSHAKE_HEADER_SIZE);
  try {
    switch (raw[0]) {
      case M.HandshakeType.client_hello:
        return M.decodeClientHello(body).extensions;
      case M.HandshakeType.server_hello:
        return M.decodeServerHello(body).extensions;
      case M.HandshakeType.encrypted_extensions:
        return M.decodeEncryptedExtensions(body).extensions;
      default:
        return [];
    }
  } catch {
    return [];
  }
}

interface Param {
  id: bigint;
  value: Uint8Array;
  /** A Length that lies (undefined: the true length). */
  len?: bigint;
}

/**
 * Transport parameters (RFC 9000 §18): `(id varint, length varint, value)*`. Mutations: integer
 * values set to boundary varints, a parameter dropped or repeated (RFC 9000 §7.4:
 * TRANSPORT_PARAMETER_ERROR), an id changed (server-only ids from a client, GREASE, unknown), a
 * Length that disagrees with the value, connection id values of bad lengths.
 */
export function mutateTransportParams(m: Mutator, bytes: Uint8Array): Uint8Array {
  const rng = m.rng;
  const params: Param[] = [];
  const r = new Reader(bytes);
  try {
    while (!r.atEnd) {
      const id = r.varintBig();
      const len = r.varint();
      params.push({ id, value: r.bytes(len).slice() });
    }
  } catch {
    return m.bytes(bytes);
  }
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const p = params[rng.int(Math.max(1, params.length))];
    switch (rng.int(7)) {
      case 0:
        if (p) p.value = varintBytes(boundary(rng));
        break;
      case 1:
        if (p) params.push({ ...p });
        break;
      case 2:
        if (p) params.splice(params.indexOf(p), 1);
        break;
      case 3:
        if (p) p.id = BigInt([0x00, 0x02, 0x06, 0x0b, 0x0e, 0x0f, 0x10, 0x20, 27, 31 * 5 + 27, 0x3fff, rng.nextU32()][rng.int(12)]!);
        break;
      case 4:
        if (p) p.len = BigInt(p.value.length + [-1, 1, 100][rng.int(3)]!);
        break;
      case 5:
        if (p) p.value = rng.fill(new Uint8Array([0, 1, 7, 16, 20, 21, 49][rng.int(7)]!));
        break;
      default:
        params.push({ id: BigInt([0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0e, 0x20][rng.int(11)]!), value: varintBytes(boundary(rng)) });
    }
  }
  const w = Writer.growable(256);
  for (const p of params) {
    writeVarintWidth(w, p.id, minWidth(p.id));
    const len = p.len ?? BigInt(p.value.length);
    writeVarintWidth(w, len < 0n ? 0n : len, minWidth(len < 0n ? 0n : len));
    w.bytesOf(p.value);
  }
  return w.buf.slice(0, w.pos);
}

function boundary(rng: SeededRandom): bigint {
  const list = [0n, 1n, 2n, 3n, 20n, 21n, 1199n, 1200n, 65527n, 65528n, 0x3fffn, 0x4000n, 2n ** 14n, 2n ** 30n, 2n ** 53n, 2n ** 60n, 2n ** 60n + 1n, VARINT_MAX];
  return list[rng.int(list.length)]!;
}

function varintBytes(v: bigint): Uint8Array {
  const w = Writer.growable(8);
  writeVarintWidth(w, v, minWidth(v));
  return w.buf.slice(0, w.pos);
}
