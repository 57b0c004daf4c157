/**
 * Scenario (runs INSIDE a loopback-only namespace, see ../iroh.ts): quic-peer sessions and real
 * iroh nodes through OUR relay server (src/relay/server.ts), with addresses that carry ONLY the
 * relay URL (no direct address), both directions:
 *
 *  1. quic-peer dials an iroh echo node whose home relay is ours, by a ticket with only the
 *     relay: a 10 MB stream echo (stdin payload), a datagram echo, close code 7.
 *  2. an iroh node dials a quic-peer endpoint whose home relay is ours, given only its id and the
 *     relay URL: stream echo of the payload, a datagram round trip, close code 9.
 *
 * With `--multipath` both quic-peer endpoints offer multipath (TransportConfig.multipath) and each
 * direction reports whether it was negotiated with iroh (`multipath`) and, from our qlog, how
 * many multipath frames of each type iroh sent us (`multipathFramesFromIroh`).
 *
 *   prints: { url, toIroh: {...}, fromIroh: {...}, metrics, elapsedMs }
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayServer } from '../../../src/relay/server.js';
import { encodeEndpointTicket } from '../../../src/session/addressing.js';
import { Endpoint } from '../../../src/session/endpoint.js';
import { Session } from '../../../src/session/session.js';
import { readAll, writeAll } from '../../../src/session/stream-io.js';
import { EndpointId } from '../../../src/tls/identity.js';
import { assertIsolated } from '../netns.js';
import { emitResult, readStdin, runIrohNode, startIrohNode } from '../iroh.js';
import { errorInfo, withTimeout } from '../peer.js';

assertIsolated(); // before anything binds an iroh endpoint

const alpn = 'quic-peer/relay-sessions';
const multipath = process.argv.includes('--multipath');
/** What the connection under a session negotiated (test code reaching into the internals). */
const negotiated = (s: Session): unknown =>
  (s as unknown as { state: { conn: { internals: { handshake: { multipath: unknown } } } } }).state.conn.internals.handshake.multipath;
/** A qlog directory for an endpoint (multipath runs only: the proof of what iroh sent). */
const qlogFor = (): { qlogDir: string } | Record<string, never> => (multipath ? { qlogDir: mkdtempSync(join(tmpdir(), 'qp-mp-qlog-')) } : {});
/** The multipath frames (path_*, max_path_id, paths_blocked) received, by qlog frame type, over the directory's traces; removes it. */
function multipathFramesReceived(q: { qlogDir?: string }): Record<string, number> | undefined {
  if (!q.qlogDir) return undefined;
  const counts: Record<string, number> = {};
  for (const f of readdirSync(q.qlogDir)) {
    for (const line of readFileSync(join(q.qlogDir, f), 'utf8').split('\x1e')) {
      if (!line.includes('packet_received')) continue;
      const e = JSON.parse(line) as { name: string; data?: { frames?: Array<{ frame_type: string }> } };
      if (e.name !== 'transport:packet_received') continue;
      for (const fr of e.data?.frames ?? []) {
        if (/^(path_(ack|abandon|status|new_connection_id|retire_connection_id|cids_blocked)|max_path_id|paths_blocked)/.test(fr.frame_type)) {
          counts[fr.frame_type] = (counts[fr.frame_type] ?? 0) + 1;
        }
      }
    }
  }
  rmSync(q.qlogDir, { recursive: true, force: true });
  return counts;
}
const t0 = performance.now();
const payload = new Uint8Array(await readStdin());
const relay = await RelayServer.listen({ bind: '127.0.0.1:0' });
const url = relay.url;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const result: Record<string, unknown> = { url, payloadSha: sha(payload) };

// 1. quic-peer -> iroh, through the relay only.
{
  const iroh = startIrohNode(['echo', '--alpn', alpn, '--bind', '127.0.0.1:0', '--relay', url, '--timeout-ms', '90000', '--max-bytes', String(payload.length + 1)], { readyTimeoutMs: 20_000 });
  const q = qlogFor();
  const ep = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, transport: { multipath, natTraversal: false }, ...q });
  try {
    const ready = (await iroh.ready) as unknown as { id: string; relay?: string };
    const ticket = encodeEndpointTicket({ id: EndpointId.parse(ready.id), addrs: [], relays: [url] });
    const s = await Session.connect(ep, ticket, { alpn, timeoutMs: 15_000 });
    const st = await s.createBidirectionalStream();
    const [, back] = await Promise.all([writeAll(st.writable, payload), withTimeout(readAll(st.readable, payload.length + 1), 60_000, 'echo from iroh')]);
    const dg = s.recvDatagram();
    await s.sendDatagram(new TextEncoder().encode('datagram via relay'));
    const dgBack = await withTimeout(dg, 5_000, 'datagram echo').catch((e: unknown) => errorInfo(e));
    const path = s.remoteAddress;
    const mp = negotiated(s);
    s.close({ closeCode: 7, reason: 'done via relay' });
    await s.closed;
    const closed = await iroh.waitFor((e) => e.event === 'closed', 5_000).catch(() => null);
    result['toIroh'] = {
      ready,
      path,
      multipath: mp,
      echoBytes: back.length,
      equal: sha(back) === sha(payload),
      datagram: dgBack instanceof Uint8Array ? new TextDecoder().decode(dgBack) : dgBack,
      irohAccepted: iroh.events.find((e) => e.event === 'accepted') ?? null,
      irohClosed: closed,
    };
  } catch (e) {
    result['toIroh'] = { error: errorInfo(e), events: iroh.events.slice(-10) };
  } finally {
    await ep.close();
    await iroh.stop().catch(() => undefined);
    iroh.child.kill('SIGKILL');
  }
  if (multipath) (result['toIroh'] as Record<string, unknown>)['multipathFramesFromIroh'] = multipathFramesReceived(q);
}

// 2. iroh -> quic-peer, through the relay only.
{
  const q = qlogFor();
  const ep = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: [alpn], relays: [url], transport: { multipath, natTraversal: false }, ...q });
  try {
    await ep.online({ timeoutMs: 10_000 });
    const served = (async () => {
      const s = await Session.accept(ep);
      if (!s) return { error: 'no session' };
      const path = s.remoteAddress;
      const remoteId = s.remoteId.toString();
      const mp = negotiated(s);
      // Echo datagrams while the stream runs.
      void (async () => {
        for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) await s.sendDatagram(d).catch(() => undefined);
      })();
      const st = await s.nextBidiStream();
      if (!st) return { error: 'no stream', path };
      const got = await readAll(st.readable, payload.length + 1);
      await writeAll(st.writable, got);
      const closed = await s.closed;
      return { path, remoteId, multipath: mp, received: got.length, equal: sha(got) === sha(payload), closed };
    })();
    const dial = await runIrohNode(
      ['dial', '--id', ep.id.toString(), '--relay', url, '--alpn', alpn, '--stdin', '--datagram', 'iroh datagram via relay', '--close-code', '9', '--close-reason', 'iroh done', '--timeout-ms', '60000', '--max-bytes', String(payload.length + 1)],
      { input: payload, timeoutMs: 80_000 },
    );
    result['fromIroh'] = {
      dial: dial.events.find((e) => e.event === 'result') ?? null,
      dialExit: dial.code,
      dialStderr: dial.stderr.slice(-1500),
      server: await withTimeout(served, 10_000, 'the quic-peer side').catch((e: unknown) => ({ error: errorInfo(e) })),
    };
  } catch (e) {
    result['fromIroh'] = { error: errorInfo(e) };
  } finally {
    await ep.close();
  }
  if (multipath) (result['fromIroh'] as Record<string, unknown>)['multipathFramesFromIroh'] = multipathFramesReceived(q);
}

result['metrics'] = relay.metrics;
await relay.close();
result['elapsedMs'] = Math.round(performance.now() - t0);
emitResult(result);
