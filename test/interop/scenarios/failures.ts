/**
 * Scenario (runs INSIDE a loopback-only namespace): how sessions with a real iroh endpoint fail.
 *
 * - idle timeout: a session in each direction, then the iroh process is SIGKILLed; our session
 *   must close with an idle timeout (ours is 3 s, iroh's 30 s: the effective one is the smaller,
 *   RFC 9000 §10.1). Both directions run at once, each against its own iroh process.
 * - rejections: a wrong expected id (authentication), an ALPN iroh does not serve, iroh dialling
 *   us with an ALPN we do not serve, iroh dialling us expecting another id.
 *
 *   prints: { idle: { dial, accept }, reject: {...} }
 */
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc } from '../iroh-rpc.js';
import { attempt, bindOurs, errorInfo, ourAddr, pair, readAll, sleep, withTimeout, writeAll, type Direction } from '../peer.js';
import { Session } from '../../../src/session/session.js';
import { EndpointId, generateSecretKey } from '../../../src/tls/identity.js';
import { CryptoRandom } from '../../../src/tls/random.js';
import { utf8 } from '../../../src/codec/bytes.js';

assertIsolated();

const ALPN = 'quic-peer/interop';
const IDLE_MS = 3000;
const t0 = performance.now();
const result: Record<string, unknown> = {};

try {
  const [dial, accept, reject] = await Promise.all([idleTimeout('dial'), idleTimeout('accept'), rejections()]);
  result['idle'] = { dial, accept };
  result['reject'] = reject;
} catch (e) {
  result['fatal'] = errorInfo(e);
  result['fatalStack'] = e instanceof Error ? e.stack : undefined;
}
result['elapsedMs'] = Math.round(performance.now() - t0);
emitResult(result);

async function idleTimeout(direction: Direction): Promise<Record<string, unknown>> {
  const iroh = await IrohRpc.start(['--alpn', ALPN]);
  // Keep-alive below the idle timeout (a session must not idle out while the peer is alive); each
  // keep-alive PING may restart the idle timer once per receipt (RFC 9000 §10.1), so after the
  // peer vanishes the session closes between IDLE_MS and IDLE_MS + keep-alive after its last packet.
  const ours = await bindOurs({ alpns: [ALPN], transport: { maxIdleTimeoutMs: IDLE_MS, keepAliveIntervalMs: 1000 } });
  try {
    const { session, conn } = await pair(direction, ours, iroh, ALPN);
    await iroh.echo(conn.conn);
    const { readable, writable } = await session.createBidirectionalStream();
    const [echo] = await Promise.all([readAll(readable), writeAll(writable, utf8('ping'))]);
    // Alive past our idle timeout thanks to the keep-alives (iroh's own are every 5 s).
    await sleep(IDLE_MS + 500);
    const aliveAfterIdlePeriod = session.state.closeInfo === undefined;
    const killedAt = performance.now();
    await iroh.kill();
    const closed = await withTimeout(session.closed, 10_000, 'our session noticing that iroh vanished');
    return {
      echoed: Buffer.from(echo).toString('utf8'),
      aliveAfterIdlePeriod,
      closeMs: Math.round(performance.now() - killedAt),
      closed,
      kind: session.state.closeReason?.kind,
    };
  } finally {
    await iroh.kill().catch(() => undefined);
    await ours.close();
  }
}

async function rejections(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const iroh = await IrohRpc.start(['--alpn', ALPN]);
  const ours = await bindOurs({ alpns: [ALPN], dialTimeoutMs: 5000 });
  const stranger = EndpointId.fromSecretKey(generateSecretKey(new CryptoRandom())).toString();
  const irohAccept = (): Promise<unknown> => attempt(() => iroh.accept(5000));
  try {
    // We dial iroh's address expecting another id: iroh's certificate does not match. We abort
    // with bad_certificate (0x12a); iroh's accept reports "aborted by peer: the cryptographic
    // handshake failed: error 42: bad_certificate: peer key is not the expected one".
    let accepted = irohAccept();
    out['wrongId'] = await attempt(() => Session.connect(ours, `${stranger}@${iroh.addr}`, { alpn: ALPN }));
    out['wrongIdIroh'] = await accepted;

    // We dial iroh with an ALPN it does not serve: iroh closes with 0x178, and its own accept
    // reports `TransportError(... Code::crypto(78) ... NoApplicationProtocol)`.
    accepted = irohAccept();
    out['wrongAlpn'] = await attempt(() => Session.connect(ours, iroh.ticket, { alpn: 'not-served/1' }));
    out['wrongAlpnIroh'] = await accepted;

    // iroh dials us with an ALPN we do not serve (iroh: "aborted by peer: ... error 120:
    // no_application_protocol", our 0x178), then expecting another id at our address (iroh's own
    // check fails first: "error 48: invalid peer certificate: UnknownIssuer"). One
    // accept stays pending throughout: the refused handshakes must never surface as sessions, so
    // the first session it yields is the good one that follows. (A timed-out accept would stay
    // registered and take the next session: accepts are not cancellable.)
    const pendingAccept = Session.accept(ours);
    out['irohWrongAlpn'] = await attempt(() => iroh.connect(ours.id.toString(), [ourAddr(ours)], 'not-served/1'));
    out['irohWrongId'] = await attempt(() => iroh.connect(stranger, [ourAddr(ours)], ALPN));
    const good = await attempt(() => iroh.connect(ours.id.toString(), [ourAddr(ours)], ALPN));
    const first = await attempt(() => withTimeout(pendingAccept, 3000, 'Session.accept'));
    out['acceptAfterRefusals'] = {
      irohConnect: good.ok,
      firstSession: first.ok && first.value !== null ? { remoteId: first.value.remoteId.toString(), alpn: first.value.alpn } : first,
      irohId: iroh.id,
    };
    // And dialling iroh still works after the refused dials.
    out['dialAfterRefusals'] = await attempt(() => pair('dial', ours, iroh, ALPN).then((p) => p.session.remoteId.toString()));
    out['irohEvents'] = iroh.events.filter((e) => e.event !== 'ready');
  } finally {
    await iroh.shutdown().catch(() => undefined);
    await ours.close();
  }
  return out;
}
