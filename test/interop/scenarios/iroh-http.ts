/**
 * Scenario (runs INSIDE a loopback-only namespace): iroh-http compatibility. The iroh endpoint is
 * configured like an iroh-http node (iroh-http-core's bind: the minimal preset, relays off here,
 * ALPNs [`iroh-http/2-duplex`, `iroh-http/2`] in that order); its sessions are plain QUIC
 * connections on `iroh-http/2-duplex` whose bidi/uni streams and datagrams carry raw application
 * bytes (iroh-http-core session.rs: no framing). quic-peer runs with its defaults (no `alpns`, no
 * `alpn`): the default session ALPN must be the one iroh-http uses.
 * (Not reproducible through the binding: iroh-http also raises max_concurrent_bidi_streams to 128.)
 *
 *   prints: { dial: {...}, accept: {...}, httpAlpn: {...} }
 */
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc, sha256Hex } from '../iroh-rpc.js';
import { attempt, bindOurs, errorInfo, ourAddr, pair, readAll, withTimeout, writeAll, type Direction } from '../peer.js';
import { DEFAULT_ALPN } from '../../../src/session/endpoint.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual, utf8 } from '../../../src/codec/bytes.js';

assertIsolated();

const random = new SeededRandom(0x4774);
const result: Record<string, unknown> = { defaultAlpn: DEFAULT_ALPN };
const iroh = await IrohRpc.start(['--alpn', 'iroh-http/2-duplex', '--alpn', 'iroh-http/2']);
const ours = await bindOurs(); // defaults: serves [DEFAULT_ALPN] only
try {
  result['dial'] = await exchange('dial');
  result['accept'] = await exchange('accept');
  // iroh-http's fetch path speaks `iroh-http/2` (HTTP/1.1 over QUIC): a quic-peer endpoint with
  // the default ALPNs serves sessions only and refuses it (no_application_protocol).
  result['httpAlpn'] = await attempt(() => iroh.connect(ours.id.toString(), [ourAddr(ours)], 'iroh-http/2'));
} catch (e) {
  result['fatal'] = errorInfo(e);
  result['fatalStack'] = e instanceof Error ? e.stack : undefined;
} finally {
  await iroh.shutdown().catch(() => undefined);
  await ours.close();
}
emitResult(result);

async function exchange(direction: Direction): Promise<Record<string, unknown>> {
  const { session, conn } = await pair(direction, ours, iroh, DEFAULT_ALPN);
  const out: Record<string, unknown> = { ourAlpn: session.alpn, irohAlpn: conn.alpn };
  // A session stream iroh opens (as session.createBidiStream on the iroh-http side): request in,
  // response out, FIN each way.
  const req = random.fill(new Uint8Array(10_000));
  const s = await iroh.openBi(conn.conn);
  await iroh.write(s, req);
  await iroh.finish(s);
  const st = await withTimeout(session.nextBidiStream(), 5000, 'the session stream iroh opened');
  if (st === null) throw new Error('session closed');
  const got = await readAll(st.readable);
  await writeAll(st.writable, utf8(`got ${got.length} bytes`));
  const reply = await iroh.read(s);
  out['irohStream'] = { requestEqual: bytesEqual(got, req), reply: Buffer.from(reply.b64 ?? '', 'base64').toString('utf8') };
  // A datagram from iroh to us.
  const dg = utf8('datagram from iroh-http');
  await iroh.sendDatagram(conn.conn, dg);
  const dgGot = await withTimeout(session.recvDatagram(), 3000, 'a datagram from iroh');
  out['irohDatagram'] = dgGot !== null && bytesEqual(dgGot, dg);
  // Then iroh serves the session as an echo: our bidi, uni and datagram come back.
  await iroh.echo(conn.conn);
  const data = random.fill(new Uint8Array(100_000));
  const { readable, writable } = await session.createBidirectionalStream();
  const [echo] = await Promise.all([readAll(readable), writeAll(writable, data)]);
  out['ourStream'] = { size: data.length, equal: bytesEqual(echo, data), sha: sha256Hex(echo) === sha256Hex(data) };
  const u = await session.createUnidirectionalStream();
  await writeAll(u, utf8('uni over iroh-http'));
  const back = await withTimeout(session.nextUniStream(), 5000, 'the uni echo');
  out['ourUni'] = back ? Buffer.from(await readAll(back)).toString('utf8') : null;
  const d = utf8('datagram from quic-peer');
  await session.sendDatagram(d);
  const dBack = await withTimeout(session.recvDatagram(), 3000, 'the datagram echo');
  out['ourDatagram'] = dBack !== null && bytesEqual(dBack, d);
  // Close as an iroh-http session does: { closeCode, reason } (WebTransport shape).
  session.close({ closeCode: 7, reason: 'session done' });
  out['irohClosed'] = await iroh.closed(conn.conn, 5000);
  return out;
}
