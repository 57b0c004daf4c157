// wtserver.mjs - WebTransport (HTTP/3) echo server on loopback, using npm "mushi" 0.0.12: the second
// reference server of ../shared/webtransport (its recipe's program, kept here so the project stands alone),
// used by test/webtransport/refs.test.ts. mushi is installed outside the repository (a native binary only
// this test needs): `npm install --prefix $QP_WT_REFS_DIR mushi@0.0.12` (.ci/run does it); MUSHI_DIR
// points at that directory.
// (quinn 0.11 + rustls 0.23 + passcod-web-transport-quinn 0.6, prebuilt napi binary).
//   node wtserver.mjs [--port 0] [--host 127.0.0.1] [--scheme ecdsa256] [--validity 120]
// Prints one JSON line on stdout: {"port":N,"spki":"<base64 sha256 of SubjectPublicKeyInfo DER>"}.
// Then logs (stderr) every session/stream/datagram.  Behaviour per WebTransport session:
//  - every client bidi stream: each received chunk is written back (mushi's SendStream has no finish(),
//    so the echo never gets a FIN; the client must read exactly as many bytes as it sent);
//  - every client uni stream: its bytes are counted and logged;
//  - every datagram: echoed back as a datagram;
//  - the server opens one uni stream and writes "hello from server uni".
// mushi makes a fresh self-signed cert for EVERY handshake (SAN/CN = random punycode name under .mushi,
// notBefore = now-60s, notAfter = now+validity), so the cert hash is unpredictable; only the key (SPKI) is
// stable.  --no-client-auth is always used (a browser never sends a client certificate).
import crypto from 'node:crypto';
import path from 'node:path';
import url from 'node:url';
import { createRequire } from 'node:module';
const here = path.dirname(url.fileURLToPath(import.meta.url));
const req = createRequire(path.join(process.env.MUSHI_DIR ?? here, 'package.json'));
const { Endpoint, EndpointKey, Allower } = req('mushi');

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf('--' + n); return i >= 0 ? args[i + 1] : d; };
const log = (...a) => console.error(new Date().toISOString().slice(11, 23), '[server]', ...a);

const key = EndpointKey.generateFor(opt('scheme', 'ecdsa256'));
key.validity = Number(opt('validity', '120'));
const spkiDer = crypto.createPublicKey(key.publicKeyPem()).export({ type: 'spki', format: 'der' });
const spki = crypto.createHash('sha256').update(spkiDer).digest('base64');
const allower = new Allower(() => true, false /* requireClientAuth */);
const ep = new Endpoint(`${opt('host', '127.0.0.1')}:${opt('port', '0')}`, key, allower);
const port = Number(ep.localAddr().split(':').pop());
console.log(JSON.stringify({ port, spki }));
log(`mushi WebTransport server on ${ep.localAddr()}, spki sha256 ${spki}`);

const stop = () => { log('stopping'); process.exit(0); };
process.on('SIGTERM', stop); process.on('SIGINT', stop);

let nsess = 0;
for (;;) {
  let s;
  try { s = await ep.accept(); } catch (e) { log('accept error:', e.message); continue; }
  if (!s) break;
  const id = ++nsess;
  log(`session ${id} accepted`);
  s.closed().then((r) => log(`session ${id} closed by peer:`, JSON.stringify(r)), (e) => log(`session ${id} closed:`, e.message));
  (async () => {
    for (;;) {
      let bi; try { bi = await s.acceptBi(); } catch (e) { log(`session ${id} acceptBi ended: ${e.message}`); return; }
      (async () => {
        const r = bi.takeRecv(), w = bi.takeSend(); let n = 0;
        for (;;) { const b = await r.read(65536); if (b == null) break; n += b.length; await w.readBuf(b); }
        log(`session ${id}: bidi stream FIN after ${n} bytes, echoed ${n}`);
      })().catch((e) => log(`session ${id} bidi err: ${e.message}`));
    }
  })();
  (async () => {
    for (;;) {
      let u; try { u = await s.acceptUni(); } catch { return; }
      (async () => { let n = 0, first = null; for (;;) { const b = await u.read(65536); if (b == null) break; first ??= b.subarray(0, 40).toString(); n += b.length; }
        log(`session ${id}: uni stream FIN after ${n} bytes (${JSON.stringify(first)})`); })().catch((e) => log(`uni err: ${e.message}`));
    }
  })();
  (async () => {
    for (;;) {
      let d; try { d = await s.recvDatagram(); } catch { return; }
      log(`session ${id}: datagram ${d.length} bytes ${JSON.stringify(d.toString())}, echoing`);
      s.sendDatagram(d);
    }
  })();
  (async () => {
    try { const u = await s.openUni(); await u.readBuf(Buffer.from('hello from server uni')); log(`session ${id}: server uni stream written`); }
    catch (e) { log(`session ${id}: openUni failed: ${e.message}`); }
  })();
}
