/**
 * Scenario (runs INSIDE a loopback-only namespace): quic-peer's Endpoint/Session against a real
 * iroh endpoint (iroh-node.cjs rpc), one direction per run.
 *
 *   args: dial | accept   (dial: quic-peer dials iroh by its ticket; accept: iroh dials quic-peer)
 *   prints: one JSON object, see SessionScenarioResult in ../session.test.ts
 *
 * Two connections run at once to keep the suite fast:
 * - `wire`: through a recording UDP relay; held idle for 5.5 s (iroh's keep-alive PINGs cross it),
 *   then used again, then closed by iroh; its capture is opened with our key log (../wire.ts) to
 *   check the transport parameters, NewSessionTickets and PINGs that really crossed the wire;
 * - `main`: direct; streams (echo, concurrency, uni, FIN, RESET_STREAM, STOP_SENDING), datagrams,
 *   path MTU, then closed by us.
 */
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc, sha256Hex } from '../iroh-rpc.js';
import { UdpRelay } from '../relay.js';
import { KeyLogSecrets, frameName, handshakeMessages, helloExtensions, isGreaseParameter, openConversation, rawTransportParameters, varintValue } from '../wire.js';
import type { Conversation, Dir } from '../wire.js';
import { attempt, bindOurs, errorInfo, ourAddr, pair, readAll, sleep, withTimeout, writeAll, type Direction } from '../peer.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual, utf8 } from '../../../src/codec/bytes.js';
import type { Session } from '../../../src/session/session.js';

assertIsolated();

const direction = process.argv[2] as Direction;
if (direction !== 'dial' && direction !== 'accept') throw new Error('usage: session.js dial|accept');
const ALPN = 'quic-peer/interop';
const random = new SeededRandom(direction === 'dial' ? 0x5e55 : 0xacce);
const keylog = new KeyLogSecrets();
const t0 = performance.now();
const ms = (since: number): number => Math.round(performance.now() - since);

const iroh = await IrohRpc.start(['--alpn', ALPN]);
const ours = await bindOurs({ alpns: [ALPN], keylog: keylog.logger });
// The `wire` connection's endpoint sends no keep-alives of its own, so that iroh's (a PING every
// 5 s, reset by any ack-eliciting packet received, ours included) really cross the relay while
// the connection is idle.
const quiet = await bindOurs({ alpns: [ALPN], keylog: keylog.logger, transport: { keepAliveIntervalMs: 0 } });
const result: Record<string, unknown> = { direction, ourId: ours.id.toString(), quietId: quiet.id.toString(), irohId: iroh.id };
const relay = await UdpRelay.start(direction === 'dial' ? iroh.addr : ourAddr(quiet));

try {
  // One pairing at a time: concurrent accepts could hand each side the other's connection.
  const wire = await pair(direction, quiet, iroh, ALPN, relay.addr);
  const [wireRes, mainRes] = await Promise.all([wireSession(wire.session, wire.conn.conn), mainSession()]);
  result['wire'] = wireRes;
  result['main'] = mainRes;
  result['wireCheck'] = checkWire();
} catch (e) {
  result['fatal'] = errorInfo(e);
  result['fatalStack'] = e instanceof Error ? e.stack : undefined;
} finally {
  result['irohEvents'] = iroh.events.filter((e) => e.event !== 'ready');
  result['elapsedMs'] = ms(t0);
  relay.close();
  await iroh.shutdown().catch(() => undefined);
  await Promise.all([ours.close(), quiet.close()]);
}
emitResult(result);

// ---------------------------------------------------------------------------------------------

async function wireSession(session: Session, conn: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  await iroh.echo(conn);
  // iroh sends a keep-alive PING 5 s after its last ack-eliciting packet: hold the session idle
  // past one and check that nothing closed and that it still works.
  const idleFrom = performance.now();
  out['idleStartMs'] = Math.round(idleFrom - t0);
  // With multipath and NAT traversal (the defaults) iroh may move this connection off the relay to
  // a direct path: then its PINGs are counted here rather than seen in the capture.
  const receivedBefore = session.getStats().packetsReceived;
  await sleep(6000);
  out['idleMs'] = ms(idleFrom);
  out['receivedWhileIdle'] = session.getStats().packetsReceived - receivedBefore;
  out['pathsAfterIdle'] = session.paths().map((p) => ({ id: p.id, remoteAddress: p.remoteAddress, selected: p.selected }));
  out['closedWhileIdle'] = session.state.closeInfo ?? null;
  out['irohCloseReasonAfterIdle'] = (await iroh.info(conn)).closeReason;
  const data = random.fill(new Uint8Array(1000));
  const { readable, writable } = await session.createBidirectionalStream();
  const [echo] = await Promise.all([readAll(readable), writeAll(writable, data)]);
  out['echoAfterIdle'] = bytesEqual(echo, data);
  out['idleEndMs'] = ms(t0);
  // iroh closes this one: its application code and reason reach our session.
  await iroh.close(conn, 43, 'bye from iroh');
  out['closedByIroh'] = await withTimeout(session.closed, 5000, 'our session closing after iroh closed');
  out['closeReasonKind'] = session.state.closeReason?.kind;
  out['closeRemote'] = session.state.closeReason?.remote;
  return out;
}

async function mainSession(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const { session, conn, ms: handshakeMs } = await pair(direction, ours, iroh, ALPN);
  out['handshake'] = {
    ms: Math.round(handshakeMs),
    ourViewOfIroh: session.remoteId.toString(),
    irohViewOfUs: conn.remoteId,
    ourAlpn: session.alpn,
    irohAlpn: conn.alpn,
  };
  // Streams iroh opens come first (before iroh's echo service takes the incoming ones).
  out['irohOpened'] = await irohOpenedStreams(session, conn.conn);
  await iroh.echo(conn.conn, false);
  out['echo'] = [];
  for (const size of [1, 64 * 1024, 4 * 1024 * 1024]) {
    const data = random.fill(new Uint8Array(size));
    const s0 = performance.now();
    const { readable, writable } = await session.createBidirectionalStream();
    const [echo] = await Promise.all([readAll(readable), writeAll(writable, data)]);
    (out['echo'] as unknown[]).push({ size, echoed: echo.length, equal: bytesEqual(echo, data), ms: ms(s0) });
  }
  out['statsAfterTransfer'] = { ours: pick(session.getStats()), iroh: await iroh.info(conn.conn) };

  // 20 concurrent bidi streams, 16 KiB each, echoed by iroh.
  const c0 = performance.now();
  const concurrent = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const data = random.fill(new Uint8Array(16 * 1024 + i));
      const { readable, writable } = await session.createBidirectionalStream();
      const [echo] = await Promise.all([readAll(readable), writeAll(writable, data)]);
      return bytesEqual(echo, data);
    }),
  );
  out['concurrent'] = { streams: concurrent.length, allEqual: concurrent.every(Boolean), ms: ms(c0) };

  // Uni streams each way: ours to iroh, iroh echoes on a uni stream it opens to us.
  const uniText = `uni from quic-peer (${direction})`;
  const w = await session.createUnidirectionalStream();
  await writeAll(w, utf8(uniText));
  const back = await withTimeout(session.nextUniStream(), 5000, 'iroh opening a uni stream');
  out['uni'] = { sent: uniText, back: back ? Buffer.from(await readAll(back)).toString('utf8') : null };

  out['datagrams'] = await datagrams(session, conn.conn);

  // We close with an application code and reason: iroh reports both.
  session.close({ closeCode: 42, reason: 'bye from quic-peer' });
  out['irohClosed'] = await iroh.closed(conn.conn, 5000);
  out['ourClosed'] = await session.closed;
  return out;
}

/** Streams iroh opens: echo through us, and RESET_STREAM / STOP_SENDING each way, with codes. */
async function irohOpenedStreams(session: Session, conn: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const next = async (): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }> => {
    const st = await withTimeout(session.nextBidiStream(), 5000, 'accepting a stream iroh opened');
    if (st === null) throw new Error('session closed while accepting');
    return st;
  };

  // Echo by us of 64 KiB iroh sends (FIN both ways).
  const data = random.fill(new Uint8Array(64 * 1024));
  const s = await iroh.openBi(conn);
  await iroh.write(s, data);
  await iroh.finish(s);
  const st = await next();
  void st.readable.pipeTo(st.writable).catch(() => {});
  const echo = await iroh.read(s);
  out['echo'] = { size: data.length, len: echo.len, equal: echo.sha256 === sha256Hex(data) };

  // (a) iroh resets its send side with code 5: our read fails with that code.
  const a = await iroh.openBi(conn);
  await iroh.write(a, utf8('abc'));
  await iroh.reset(a, 5);
  const sa = await next();
  out['irohReset'] = await attempt(() => readAll(sa.readable).then((b) => b.length));

  // (b) iroh stops its receive side with code 11: our writes fail with that code.
  const b = await iroh.openBi(conn);
  await iroh.write(b, utf8('x'));
  const sb = await next();
  await iroh.stop(b, 11);
  out['irohStop'] = await attempt(async () => {
    const writer = sb.writable.getWriter();
    for (let i = 0; i < 300; i++) {
      await writer.write(new Uint8Array(1024));
      await sleep(10);
    }
    return 'writes kept succeeding for 3 s';
  });

  // (c) we reset our send side with code 13: iroh sees RESET_STREAM with it.
  const c = await iroh.openBi(conn);
  await iroh.write(c, utf8('y'));
  const sc = await next();
  const wc = sc.writable.getWriter();
  await wc.write(utf8('partial'));
  await wc.abort(13);
  out['ourReset'] = await attempt(() => iroh.receivedReset(c));

  // (d) we stop our receive side with code 9: iroh's send side sees STOP_SENDING with it.
  const d = await iroh.openBi(conn);
  await iroh.write(d, utf8('z'));
  const sd = await next();
  await sd.readable.cancel(9);
  out['ourStop'] = await attempt(() => iroh.stopped(d));
  return out;
}

async function datagrams(session: Session, conn: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const max = session.maxDatagramSize();
  out['ourMax'] = max;
  if (max === null) return out;
  // Ours, the smallest and the largest allowed now, as iroh received them. (Not echoed: at a
  // 1452-byte MTU our maximum is 1422 bytes but iroh's is 1414, since noq reserves room for a
  // DATAGRAM frame's type and a full 8-byte length varint while we send the last frame of a packet
  // without a length (RFC 9221 §4, type 0x30). So iroh cannot send back what we may send.)
  const sent: Array<{ size: number; received: number | null; equal: boolean }> = [];
  for (const size of [1, max]) {
    const d = random.fill(new Uint8Array(size));
    await session.sendDatagram(d);
    const got = await iroh.readDatagram(conn, 3000).catch(() => null);
    sent.push({ size, received: got?.length ?? null, equal: got !== null && bytesEqual(got, d) });
  }
  out['ours'] = sent;
  out['ourOversize'] = await attempt(() => session.sendDatagram(new Uint8Array(max + 1)));
  // iroh's, at its own maximum, and its own over-size error.
  const info = await iroh.info(conn);
  out['irohMax'] = info.maxDatagramSize;
  if (info.maxDatagramSize !== null) {
    const d = random.fill(new Uint8Array(info.maxDatagramSize));
    await iroh.sendDatagram(conn, d);
    const got = await withTimeout(session.recvDatagram(), 3000, 'a datagram from iroh');
    out['irohSent'] = { size: d.length, received: got?.length ?? null, equal: got !== null && bytesEqual(got, d) };
    out['irohOversize'] = await attempt(() => iroh.sendDatagram(conn, new Uint8Array(info.maxDatagramSize! + 1)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** What the relay captured of the `wire` connection, decoded. */
function checkWire(): Record<string, unknown> {
  const conv: Conversation = openConversation(relay.captured, keylog);
  // The client is whoever dialled: quic-peer when direction === 'dial'.
  const ourDir: Dir = direction === 'dial' ? 'c2s' : 's2c';
  const irohDir: Dir = direction === 'dial' ? 's2c' : 'c2s';
  const params = (dir: Dir): Array<{ id: string; len: number; value?: string }> => {
    const msgs = dir === 'c2s' ? handshakeMessages(conv.crypto('c2s', 'initial')) : handshakeMessages(conv.crypto('s2c', 'handshake'));
    const type = dir === 'c2s' ? 1 : 8; // ClientHello, EncryptedExtensions
    const m = msgs.find((x) => x.type === type);
    if (m === undefined) throw new Error(`no ${type === 1 ? 'ClientHello' : 'EncryptedExtensions'} from ${dir}`);
    const tp = helloExtensions(type, m.body).ext.get(0x39);
    if (tp === undefined) throw new Error('no quic_transport_parameters (0x39)');
    return rawTransportParameters(tp).map((p) => ({
      id: `0x${p.id.toString(16)}`,
      len: p.value.length,
      ...(p.value.length > 0 && p.value.length <= 8 && [0x01n, 0x03n, 0x04n, 0x3en, 0x3d7f91120401n, 0x9f81a176n, 0xff04de1bn].includes(p.id) ? { value: varintValue(p.value).toString() } : {}),
    }));
  };
  // NewSessionTickets (type 4) a server sends in 1-RTT CRYPTO frames.
  const tickets = (dir: Dir): number => handshakeMessages(conv.crypto(dir, 'oneRtt')).filter((m) => m.type === 4).length;
  // PINGs each side sent while the wire session was idle (packets holding only PING/PADDING/ACK).
  const pingsIdle = (dir: Dir): number[] =>
    conv.packets
      .filter((p) => p.dir === dir && p.packet.space === 'oneRtt' && p.frames.some((f) => f.type === 'ping'))
      .map((p) => p.ms);
  const frameTypes = (dir: Dir): string[] => [
    ...new Set(conv.packets.filter((p) => p.dir === dir).flatMap((p) => p.frames.map(frameName))),
  ];
  // Seen: iroh as a client offers TLS_AES_256_GCM_SHA384 first, so when it dials us the
  // connection runs 0x1302 (our server follows the client's order); when we dial, 0x1301. The
  // reader handles all three suites. An iroh server sends 2 NewSessionTickets, and so do we.
  return {
    suite: `0x${conv.suite.toString(16)}`,
    packetsOpened: conv.packets.length,
    unopened: conv.unopened,
    unopenedPackets: conv.unopenedPackets,
    ourParams: params(ourDir),
    irohParams: params(irohDir),
    greaseFromIroh: params(irohDir).filter((p) => isGreaseParameter(BigInt(p.id))).map((p) => p.id),
    ticketsFromServer: tickets('s2c'),
    irohPingTimesMs: pingsIdle(irohDir),
    ourPingTimesMs: pingsIdle(ourDir),
    irohFrameTypes: frameTypes(irohDir),
    ourFrameTypes: frameTypes(ourDir),
    largestDatagram: { ours: largest(ourDir), iroh: largest(irohDir) },
  };
}

/** The largest UDP payload one side sent through the relay (PMTU probes included). */
function largest(dir: Dir): number {
  return Math.max(0, ...relay.captured.filter((d) => d.dir === dir).map((d) => d.bytes.length));
}

function pick(s: ReturnType<Session['getStats']>): Record<string, unknown> {
  return { mtu: s.mtu, rtt: s.rtt, packetsLost: s.packetsLost, packetsSent: s.packetsSent, packetsReceived: s.packetsReceived, datagrams: s.datagrams };
}
