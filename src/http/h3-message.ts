/**
 * HTTP/3 messages on request streams (RFC 9114 §4): reading the frames of a request or response,
 * and the rules of a well-formed header section (§4.2, §4.3). A malformed message is a stream error
 * of type H3_MESSAGE_ERROR (§4.1.2); a frame that has no place on a request stream is a connection
 * error of type H3_FRAME_UNEXPECTED (§7.2).
 */
import {
  H3Error,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_UNEXPECTED,
  H3_MESSAGE_ERROR,
} from './errors.js';
import {
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_MAX_PUSH_ID,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  HTTP2_ONLY_FRAMES,
  readFrameHeader,
  readFramePayload,
  type FrameHeader,
} from './h3-frames.js';
import { decodeFieldSection, type HeaderField } from './qpack.js';
import type { StreamReader } from './stream-reader.js';

/** The largest HEADERS frame we read (a GET's header section is a few hundred bytes). */
export const MAX_HEADERS_FRAME = 64 * 1024;

/** A request's pseudo-header fields (§4.3.1) and its other fields. */
export interface RequestHead {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  /** Extended CONNECT's `:protocol` (RFC 9220 §3, RFC 8441 §4), e.g. `webtransport`. */
  readonly protocol?: string;
  readonly fields: readonly HeaderField[];
}

/** A response's status (§4.3.2) and its other fields. */
export interface ResponseHead {
  readonly status: number;
  readonly fields: readonly HeaderField[];
}

/** Fields a message must not carry in HTTP/3 (§4.2: connection-specific). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * The next frame on a request stream that is DATA or HEADERS, or null at the end of the stream.
 * Unknown and reserved frames are skipped (§9); control-stream frames and HTTP/2's are
 * H3_FRAME_UNEXPECTED (§7.2.4, §7.2.6, §7.2.7, §7.2.8); PUSH_PROMISE too, as we never allow pushes.
 */
export async function nextMessageFrame(r: StreamReader): Promise<FrameHeader | null> {
  for (;;) {
    const h = await readFrameHeader(r);
    if (h === null) return null;
    if (h.type === FRAME_DATA || h.type === FRAME_HEADERS) return h;
    if (
      h.type === FRAME_SETTINGS ||
      h.type === FRAME_GOAWAY ||
      h.type === FRAME_MAX_PUSH_ID ||
      h.type === FRAME_CANCEL_PUSH ||
      h.type === FRAME_PUSH_PROMISE ||
      HTTP2_ONLY_FRAMES.has(h.type)
    ) {
      throw new H3Error(H3_FRAME_UNEXPECTED, `frame 0x${h.type.toString(16)} on a request stream`);
    }
    await skip(r, h.length);
  }
}

/** Reads and discards `n` payload bytes. */
export async function skip(r: StreamReader, n: number): Promise<void> {
  while (n > 0) {
    const chunk = await r.readSome(Math.min(n, 64 * 1024));
    if (chunk === null) throw new H3Error(H3_MESSAGE_ERROR, 'the stream ended inside a frame', 'stream');
    n -= chunk.length;
  }
}

/** A HEADERS frame's payload, decoded with QPACK (QPACK errors close the connection). */
export async function readHeaderSection(r: StreamReader, h: FrameHeader): Promise<HeaderField[]> {
  if (h.length > MAX_HEADERS_FRAME) throw new H3Error(H3_EXCESSIVE_LOAD, `HEADERS frame of ${h.length} bytes`, 'stream');
  return decodeFieldSection(await readFramePayload(r, h.length));
}

/** Splits pseudo-headers from fields and checks the rules common to requests and responses. */
function split(fields: readonly HeaderField[]): { pseudo: Map<string, string>; regular: HeaderField[] } {
  const pseudo = new Map<string, string>();
  const regular: HeaderField[] = [];
  for (const f of fields) {
    if (f.name !== f.name.toLowerCase()) throw new H3Error(H3_MESSAGE_ERROR, `field name '${f.name}' has uppercase letters (§4.2)`, 'stream');
    if (f.name.startsWith(':')) {
      // §4.3: pseudo-headers come first, once each.
      if (regular.length > 0) throw new H3Error(H3_MESSAGE_ERROR, `pseudo-header ${f.name} after a regular field (§4.3)`, 'stream');
      if (pseudo.has(f.name)) throw new H3Error(H3_MESSAGE_ERROR, `pseudo-header ${f.name} twice (§4.3)`, 'stream');
      pseudo.set(f.name, f.value);
    } else {
      if (CONNECTION_SPECIFIC.has(f.name) && !(f.name === 'te' && f.value === 'trailers')) {
        throw new H3Error(H3_MESSAGE_ERROR, `connection-specific field '${f.name}' (§4.2)`, 'stream');
      }
      regular.push(f);
    }
  }
  return { pseudo, regular };
}

/** A request header section checked as §4.3.1 asks (CONNECT is not supported: 405 upstream). */
export function parseRequestHead(fields: readonly HeaderField[]): RequestHead {
  const { pseudo, regular } = split(fields);
  for (const k of pseudo.keys()) {
    if (k !== ':method' && k !== ':scheme' && k !== ':authority' && k !== ':path' && k !== ':protocol') {
      throw new H3Error(H3_MESSAGE_ERROR, `unknown request pseudo-header ${k} (§4.3.1)`, 'stream');
    }
  }
  const method = pseudo.get(':method');
  const scheme = pseudo.get(':scheme');
  const path = pseudo.get(':path');
  if (method === undefined || scheme === undefined || path === undefined || path === '') {
    throw new H3Error(H3_MESSAGE_ERROR, 'request without :method, :scheme and a non-empty :path (§4.3.1)', 'stream');
  }
  const protocol = pseudo.get(':protocol');
  // RFC 8441 §4 (RFC 9220 §3): :protocol only on an extended CONNECT, which has an :authority.
  if (protocol !== undefined && (method !== 'CONNECT' || !pseudo.has(':authority'))) {
    throw new H3Error(H3_MESSAGE_ERROR, ':protocol outside an extended CONNECT with :authority (RFC 9220 §3)', 'stream');
  }
  const host = regular.find((f) => f.name === 'host')?.value;
  return { method, scheme, authority: pseudo.get(':authority') ?? host ?? '', path, ...(protocol !== undefined ? { protocol } : {}), fields: regular };
}

/** A response header section checked as §4.3.2 asks. */
export function parseResponseHead(fields: readonly HeaderField[]): ResponseHead {
  const { pseudo, regular } = split(fields);
  const status = pseudo.get(':status');
  if (pseudo.size !== 1 || status === undefined || !/^[1-5][0-9][0-9]$/.test(status)) {
    throw new H3Error(H3_MESSAGE_ERROR, `response without exactly one valid :status (§4.3.2)`, 'stream');
  }
  return { status: Number(status), fields: regular };
}

/** The value of `content-length`, undefined when absent; malformed is H3_MESSAGE_ERROR (§4.1.2). */
export function contentLength(fields: readonly HeaderField[]): number | undefined {
  const values = fields.filter((f) => f.name === 'content-length').map((f) => f.value);
  if (values.length === 0) return undefined;
  if (!values.every((v) => v === values[0]) || !/^[0-9]{1,15}$/.test(values[0] as string)) {
    throw new H3Error(H3_MESSAGE_ERROR, `bad content-length ${values.join(', ')}`, 'stream');
  }
  return Number(values[0]);
}
