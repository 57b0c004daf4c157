/**
 * Headless Chromium (Debian's `chromium`, driven by puppeteer-core) against quic-peer's
 * WebTransport server, inside a loopback-only network namespace: browser-scenario.ts runs there and
 * prints what the page and the server saw. No browser flags for certificates: the page passes
 * `serverCertificateHashes`. Skipped without Chromium or a namespace, failing under CI=true.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isolationDecision, requireIsolation, runIsolated } from '../interop/netns.js';
import { chromiumAvailable, CHROMIUM } from './chromium.js';

export function requireChromium(ctx: Mocha.Context): void {
  if (chromiumAvailable()) return;
  if (isolationDecision(false) === 'fail') throw new Error(`${CHROMIUM} is missing and CI=true forbids skipping (apt-get install chromium; .ci/run does)`);
  console.warn(`      (skipped: ${CHROMIUM} is missing; apt-get install chromium)`);
  ctx.skip();
}

describe('webtransport: headless Chromium to quic-peer (loopback-only namespace)', function () {
  this.timeout(90_000);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let out: { page: Record<string, any>; server: { closes: Array<{ path: string; closeCode: number; reason: string }>; connectionEndMs: Record<string, number>; log: { streamErrors: Array<{ kind: string; code: number }>; bidi: number } } };

  before(async function () {
    requireChromium(this);
    await requireIsolation(this);
    const script = fileURLToPath(new URL('./browser-scenario.js', import.meta.url));
    const r = await runIsolated([process.execPath, script], { timeoutMs: 75_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    assert.ok(!r.timedOut, `the scenario timed out; stderr: ${r.stderr.slice(-2000)}`);
    out = JSON.parse(line);
    assert.equal((out as unknown as { error?: string }).error, undefined);
    assert.equal(out.page['error'], undefined, `the page failed: ${out.page['error']}`);
  });

  it('opens a session with serverCertificateHashes and echoes 1 MB on a bidirectional stream', () => {
    assert.equal(out.page['bulkEqual'], true);
    assert.ok(out.page['maxDatagramSize'] > 1000, `maxDatagramSize ${out.page['maxDatagramSize']}`);
  });

  it('echoes 100 concurrent streams', () => {
    assert.equal(out.page['concurrentOk'], 100);
  });

  it('carries unidirectional streams both ways and datagrams', () => {
    assert.equal(out.page['uniEcho'], 'hello over a uni stream');
    assert.equal(out.page['datagramEcho'], 'datagram ping');
  });

  it('close code and reason, both ways', () => {
    assert.deepEqual(out.page['pageCloseSeen'], { closeCode: 4242, reason: 'page says done' }, JSON.stringify(out));
    assert.deepEqual(out.server.closes.find((c) => c.path === '/echo'), { path: '/echo', closeCode: 4242, reason: 'page says done' });
    assert.deepEqual(out.page['serverClose'], { closeCode: 7, reason: 'server says bye' }, JSON.stringify(out));
    // The browser dropped its connection silently after its capsule; the server ended its own at
    // once (not at the 30 s idle timeout: the scenario is over long before).
    assert.ok(out.server.connectionEndMs['/echo'] !== undefined, JSON.stringify(out.server));
  });

  it("a reset stream's code, both ways", () => {
    assert.deepEqual(out.page['resetRead'], { name: 'WebTransportError', streamErrorCode: 123, message: 'WebTransportError: Received RESET_STREAM.' });
    assert.deepEqual(out.server.log.streamErrors[0], { kind: 'reset', code: 77 });
  });

  it("a stopped stream's code (STOP_SENDING), both ways", () => {
    // The page's reader.cancel(WebTransportError 55): the server's echo could no longer write.
    assert.deepEqual(out.server.log.streamErrors.slice(1), [{ kind: 'stopped', code: 55 }], JSON.stringify(out.server.log));
    // The server's readable.cancel(66): the page's writes fail with that code.
    assert.deepEqual(out.page['stopWrite'], { name: 'WebTransportError', streamErrorCode: 66 }, JSON.stringify(out.page));
  });

  it('the demo page of quic-peer listen --webtransport loads, connects and shows a measured RTT', () => {
    const demo = (out as unknown as { demo: { status?: string; rttMs?: number; mbps?: number; echoed?: number; error?: string } }).demo;
    assert.equal(demo.error, undefined, JSON.stringify(demo));
    assert.match(demo.status ?? '', /^connected to https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok((demo.rttMs ?? 0) > 0 && (demo.mbps ?? 0) > 0 && (demo.echoed ?? 0) > 0, JSON.stringify(demo));
  });

  it('negotiates draft-02 with Chromium as it is, draft-07 with its draft-07 feature on', () => {
    const o = out as unknown as { draft07: { echoed: string; serverDraft: string }; server: { drafts: string[] } };
    assert.equal(o.server.drafts[0], 'draft-02');
    assert.deepEqual(o.draft07, { echoed: 'draft-07 echo', serverDraft: 'draft-07' });
  });

  it("the README's example runs as written: its Node server echoes what its page sends", () => {
    const readme = (out as unknown as { readme: { url?: string; logged?: string[]; error?: string } }).readme;
    assert.equal(readme.error, undefined, JSON.stringify(readme));
    assert.equal(readme.url, 'https://127.0.0.1:4433/echo');
    assert.deepEqual(readme.logged, ['hello from the browser']);
  });

  it('a path the server does not serve (404) is an error in the page', () => {
    assert.equal(out.page['notFound']?.name, 'WebTransportError');
  });
});
