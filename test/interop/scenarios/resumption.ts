/**
 * Scenario (runs INSIDE a loopback-only namespace): TLS resumption between quic-peer and a real
 * iroh 1.0.2 endpoint, both directions ([resumption] step 3). Each side connects twice with the
 * same endpoints; the second handshake must resume (a pre_shared_key the server accepts).
 *
 *   dial:   quic-peer dials iroh twice -> our session.resumed on the 2nd (iroh sends 2 tickets)
 *   early:  quic-peer dials iroh twice more with earlyData: the request goes in 0-RTT packets,
 *           iroh accepts it (session.earlyDataAccepted) and echoes it
 *   accept: iroh dials quic-peer twice -> our server's session.resumed on the 2nd (iroh's rustls
 *           client stores our tickets and offers one)
 *
 *   prints: { dial: [{ resumed, remoteId, echo }, ...], accept: [...], ids }
 */
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc } from '../iroh-rpc.js';
import { bindOurs, errorInfo, pair, readAll, withTimeout, writeAll } from '../peer.js';
import { Session } from '../../../src/session/session.js';

assertIsolated();

const ALPN = 'quic-peer/resume';
const result: Record<string, unknown> = {};
const iroh = await IrohRpc.start(['--alpn', ALPN]);
const ours = await bindOurs({ alpns: [ALPN] });
try {
  result.ids = { ours: ours.id.toString(), iroh: iroh.id };
  // quic-peer dials iroh: an echo round trip each time (the tickets come in the first 1-RTT CRYPTO).
  const dial: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const { session, conn } = await pair('dial', ours, iroh, ALPN);
    await iroh.echo(conn.conn);
    const st = await session.createBidirectionalStream();
    await writeAll(st.writable, new TextEncoder().encode(`hello ${i}`));
    const echo = new TextDecoder().decode(await withTimeout(readAll(st.readable), 5000, 'echo'));
    dial.push({ resumed: session.resumed, remoteId: session.remoteId.toString(), irohSawUs: conn.remoteId, echo });
    session.close({ closeCode: 0, reason: 'again' });
    await session.closed;
  }
  result.dial = dial;

  // 0-RTT to iroh: the cache holds iroh's tickets (early_data 0xffffffff); connect returns before
  // the handshake and the request rides the first flight in 0-RTT packets.
  const early: unknown[] = [];
  for (let i = 0; i < 2; i++) {
    const accepted = iroh.accept();
    accepted.catch(() => {});
    const session = await Session.connect(ours, iroh.ticket, { alpn: ALPN, earlyData: true });
    let ready = false;
    void session.ready.then(() => (ready = true), () => {});
    const st = await session.createBidirectionalStream();
    const openedBeforeReady = !ready;
    await writeAll(st.writable, new TextEncoder().encode(`early ${i}`));
    const conn = await accepted;
    await iroh.echo(conn.conn);
    const echo = new TextDecoder().decode(await withTimeout(readAll(st.readable), 5000, 'echo'));
    await session.ready;
    early.push({ openedBeforeReady, accepted: session.earlyDataAccepted, resumed: session.resumed, remoteId: session.remoteId.toString(), irohSawUs: conn.remoteId, echo });
    session.close({ closeCode: 0, reason: 'again' });
    await session.closed;
  }
  result.early = early;

  // iroh dials quic-peer: we echo one stream iroh opens, which also lets our tickets reach it.
  const accept: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const { session, conn } = await pair('accept', ours, iroh, ALPN);
    const served = serveOne(session);
    const s = await iroh.openBi(conn.conn);
    await iroh.write(s, new TextEncoder().encode(`hi ${i}`));
    await iroh.finish(s);
    const back = await iroh.read(s);
    await served;
    accept.push({ resumed: session.resumed, remoteId: session.remoteId.toString(), irohSawUs: conn.remoteId, echoLen: back.len });
    await iroh.close(conn.conn, 0, 'again');
    await withTimeout(session.closed, 5000, 'our session closed');
  }
  result.accept = accept;
} catch (e) {
  result.fatal = errorInfo(e);
  result.fatalStack = (e as Error).stack;
} finally {
  await ours.close();
  await iroh.shutdown().catch(() => {});
}
emitResult(result);

async function serveOne(session: Session): Promise<void> {
  const st = await session.nextBidiStream();
  if (st) await st.readable.pipeTo(st.writable);
}
