import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateCertificate, type GenerateCertificateOptions, type GeneratedCertificate } from '../../src/session/certificates.js';
import { TlsAlert, alertName } from '../../src/tls/alerts.js';
import { parseCertificate } from '../../src/tls/x509/certificate.js';
import { certificatesFromPem, certificateToPem } from '../../src/tls/x509/pem.js';
import { verifyPath } from '../../src/tls/x509/verify.js';

/**
 * Cross-check of our certificate path validation (src/tls/x509/verify.ts) against OpenSSL's
 * `openssl verify -purpose sslserver` with -verify_hostname / -verify_ip at a fixed time, on a
 * table of good and bad chains generated here: for every row, both must decide the same, and
 * that decision must be the one the row expects (so the table cannot pass with both wrong).
 */

const execFileP = promisify(execFile);
/** Every certificate is valid 2020..2040 unless a row says otherwise; checks happen in 2030. */
const NOT_BEFORE = new Date(Date.UTC(2020, 0, 1));
const NOT_AFTER = new Date(Date.UTC(2040, 0, 1));
const NOW = Date.UTC(2030, 0, 1);

interface Row {
  readonly name: string;
  /** Leaf first, then the intermediates sent. */
  readonly chain: readonly string[];
  readonly anchors: readonly string[];
  readonly host: { dns: string } | { ip: string };
  readonly ok: boolean;
  /** The alert our verifier must raise when it refuses. */
  readonly alert?: string;
}

describe('X.509 path validation agrees with OpenSSL (openssl verify)', function () {
  this.timeout(60_000);
  let dir: string;
  const rows: Row[] = [];

  before(async function () {
    try {
      await execFileP('openssl', ['version']);
    } catch {
      if (process.env['CI'] === 'true') throw new Error('openssl is required under CI');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'quic-peer-x509-'));
    const gen = (o: Partial<GenerateCertificateOptions> & { names: string[] }): Promise<GeneratedCertificate> =>
      generateCertificate({ notBefore: NOT_BEFORE, notAfter: NOT_AFTER, ...o });
    const root = await gen({ names: ['Root CA'], ca: true });
    const otherRoot = await gen({ names: ['Other Root CA'], ca: true });
    const inter = await gen({ names: ['Intermediate CA'], ca: true, issuer: root });
    const interLen0 = await gen({ names: ['Intermediate CA pathlen 0'], ca: true, pathLength: 0, issuer: root });
    const inter2 = await gen({ names: ['Intermediate CA under pathlen 0'], ca: true, issuer: interLen0 });
    const notCa = await gen({ names: ['Not a CA'], issuer: root });
    const expiredInter = await gen({ names: ['Expired Intermediate'], ca: true, issuer: root, notAfter: new Date(Date.UTC(2025, 0, 1)) });
    const leaf = (o: Partial<GenerateCertificateOptions> & { names: string[] }, issuer = inter): Promise<GeneratedCertificate> => gen({ issuer, ...o });

    const good = await leaf({ names: ['server.test'] });
    const rsa = await leaf({ names: ['server.test'], keyType: 'rsa-2048' });
    const ed = await leaf({ names: ['server.test'], keyType: 'ed25519' });
    const p384 = await leaf({ names: ['server.test'], keyType: 'ecdsa-p384' });
    const wildcard = await leaf({ names: ['*.example.test'] });
    const ip = await leaf({ names: ['127.0.0.1', '::1'] });
    const expired = await leaf({ names: ['server.test'], notAfter: new Date(Date.UTC(2025, 0, 1)) });
    const notYet = await leaf({ names: ['server.test'], notBefore: new Date(Date.UTC(2035, 0, 1)) });
    const clientOnly = await leaf({ names: ['server.test'], extKeyUsage: ['clientAuth'] });
    const direct = await leaf({ names: ['server.test'] }, root);
    const selfSigned = await gen({ names: ['server.test'] });
    const tooLong = await leaf({ names: ['server.test'] }, inter2);
    const underNotCa = await leaf({ names: ['server.test'] }, notCa);
    const underExpired = await leaf({ names: ['server.test'] }, expiredInter);
    const forged = corruptSignature(good.cert);

    const dns = (d: string): { dns: string } => ({ dns: d });
    const R = [root.cert];
    rows.push(
      { name: 'leaf + intermediate + root', chain: [good.cert, inter.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'RSA-2048 leaf', chain: [rsa.cert, inter.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'Ed25519 leaf', chain: [ed.cert, inter.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'P-384 leaf', chain: [p384.cert, inter.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'leaf signed by the root directly', chain: [direct.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'the root sent along too', chain: [good.cert, inter.cert, root.cert], anchors: R, host: dns('server.test'), ok: true },
      { name: 'a self-signed leaf trusted as its own anchor', chain: [selfSigned.cert], anchors: [selfSigned.cert], host: dns('server.test'), ok: true },
      { name: 'wildcard *.example.test for a.example.test', chain: [wildcard.cert, inter.cert], anchors: R, host: dns('a.example.test'), ok: true },
      { name: 'wildcard does not cover two labels', chain: [wildcard.cert, inter.cert], anchors: R, host: dns('a.b.example.test'), ok: false, alert: 'bad_certificate' },
      { name: 'wildcard does not cover the bare domain', chain: [wildcard.cert, inter.cert], anchors: R, host: dns('example.test'), ok: false, alert: 'bad_certificate' },
      { name: 'IPv4 SAN', chain: [ip.cert, inter.cert], anchors: R, host: { ip: '127.0.0.1' }, ok: true },
      { name: 'IPv6 SAN', chain: [ip.cert, inter.cert], anchors: R, host: { ip: '::1' }, ok: true },
      { name: 'another IP', chain: [ip.cert, inter.cert], anchors: R, host: { ip: '127.0.0.2' }, ok: false, alert: 'bad_certificate' },
      { name: 'an IP SAN is not a DNS name', chain: [ip.cert, inter.cert], anchors: R, host: dns('localhost'), ok: false, alert: 'bad_certificate' },
      { name: 'wrong name', chain: [good.cert, inter.cert], anchors: R, host: dns('other.test'), ok: false, alert: 'bad_certificate' },
      { name: 'expired leaf', chain: [expired.cert, inter.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'certificate_expired' },
      { name: 'leaf not yet valid', chain: [notYet.cert, inter.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'certificate_expired' },
      { name: 'expired intermediate', chain: [underExpired.cert, expiredInter.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'certificate_expired' },
      { name: 'unknown CA', chain: [good.cert, inter.cert], anchors: [otherRoot.cert], host: dns('server.test'), ok: false, alert: 'unknown_ca' },
      { name: 'intermediate missing', chain: [good.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'unknown_ca' },
      { name: 'bad signature on the leaf', chain: [forged, inter.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'bad_certificate' },
      { name: 'wrong extended key usage (clientAuth only)', chain: [clientOnly.cert, inter.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'unsupported_certificate' },
      { name: 'too long a path (pathLen 0 above another CA)', chain: [tooLong.cert, inter2.cert, interLen0.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'bad_certificate' },
      { name: 'an intermediate that is not a CA', chain: [underNotCa.cert, notCa.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'bad_certificate' },
      { name: 'a self-signed leaf not trusted', chain: [selfSigned.cert], anchors: R, host: dns('server.test'), ok: false, alert: 'unknown_ca' },
    );
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every row: our decision = OpenSSL decision = the expected one', async () => {
    assert.ok(rows.length >= 20);
    const report: string[] = [];
    for (const [i, row] of rows.entries()) {
      const ours = decide(row);
      const theirs = await openssl(dir, i, row);
      const line = `${row.name}: expected ${row.ok ? 'accept' : `refuse (${row.alert})`}, ours ${ours.ok ? 'accept' : `refuse (${ours.alert}: ${ours.why})`}, openssl ${theirs.ok ? 'accept' : `refuse (${theirs.why})`}`;
      if (ours.ok !== row.ok || theirs.ok !== row.ok || (!row.ok && ours.alert !== row.alert)) report.push(line);
    }
    assert.deepEqual(report, []);
  });
});

function decide(row: Row): { ok: boolean; alert?: string; why?: string } {
  try {
    verifyPath(row.chain.flatMap((p) => certificatesFromPem(p)).map((d) => parseCertificate(d)), {
      anchors: row.anchors.flatMap((p) => certificatesFromPem(p)).map((d) => parseCertificate(d)),
      now: NOW,
      name: row.host,
      purpose: 'serverAuth',
    });
    return { ok: true };
  } catch (e) {
    if (!(e instanceof TlsAlert)) throw e;
    return { ok: false, alert: alertName(e.alert), why: e.message };
  }
}

async function openssl(dir: string, i: number, row: Row): Promise<{ ok: boolean; why?: string }> {
  const f = (n: string, text: string): string => {
    const p = join(dir, `${i}-${n}.pem`);
    writeFileSync(p, text);
    return p;
  };
  const args = ['verify', '-no-CApath', '-CAfile', f('anchors', row.anchors.join('')), '-purpose', 'sslserver', '-attime', String(NOW / 1000)];
  if (row.chain.length > 1) args.push('-untrusted', f('untrusted', row.chain.slice(1).join('')));
  if ('dns' in row.host) args.push('-verify_hostname', row.host.dns);
  else args.push('-verify_ip', row.host.ip);
  args.push(f('leaf', row.chain[0]!));
  try {
    await execFileP('openssl', args, { timeout: 10_000 });
    return { ok: true };
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    return { ok: false, why: out.split('\n').find((l) => /error/.test(l)) ?? out.trim() };
  }
}

/** The certificate with one bit of its signature flipped (the last byte of the DER). */
function corruptSignature(pem: string): string {
  const der = certificatesFromPem(pem)[0]!.slice();
  der[der.length - 1]! ^= 0x01;
  return certificateToPem(der);
}
