import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGrouped, type RunResult } from '../interop/netns.js';

/**
 * What a user gets from the registry ([first-hour] items 6 and 7): the tarball `npm pack` makes
 * (its prepack script deletes dist/ and builds it again, so this is also what a pack or a git
 * install of an unbuilt clone ships), installed by npm into a fresh project, and the README's
 * "Using it" example run from it as a user would write it: an ES module, CommonJS through
 * `require`, and strict TypeScript compiled against the installed declarations.
 *
 * Everything here binds and dials loopback only: the example's endpoints are made to bind
 * 127.0.0.1 (checked before anything runs), and the server's ticket carries only that address.
 */

const root = join(fileURLToPath(import.meta.url), '../../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** What `npm pack --json` says about one tarball (the fields used here). */
interface PackReport {
  filename: string;
  files: { path: string; mode: number }[];
}

describe('the packed package, installed into a fresh project', function () {
  // A pack is one `tsc` build (~8 s on an idle machine) and an install from the npm cache (~2 s);
  // each check below is a node run or a `tsc` run of a second or a few. Generous for a loaded machine.
  this.timeout(90_000);

  let work = '';
  /** The consumer project, and the package as npm installed it there. */
  let app = '';
  let installed = '';
  /** Paths in the tarball, relative to the package root. */
  let packed: string[] = [];
  /** The README's "Using it" example, binding loopback only. */
  let example = '';

  before(async function () {
    this.timeout(300_000);
    work = mkdtempSync(join(tmpdir(), 'quic-peer-pack-'));
    const pack = await run(['npm', 'pack', '--json', '--pack-destination', work], root, 240_000);
    const [report] = JSON.parse(pack.stdout) as PackReport[];
    assert.ok(report, `npm pack reported no tarball: ${pack.stdout}`);
    packed = report.files.map((f) => f.path).sort();

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // The runtime dependencies are in npm's cache once the repository's own install has run.
    await run(['npm', 'install', join(work, report.filename), '--no-audit', '--no-fund', '--prefer-offline'], app, 120_000);
    installed = join(app, 'node_modules/quic-peer');
    // The TypeScript consumers need Node's types, as any TypeScript project on Node has them.
    symlinkSync(join(root, 'node_modules/@types'), join(app, 'node_modules/@types'), 'dir');

    example = loopbackOnly(codeBlockAfter(readFileSync(join(installed, 'README.md'), 'utf8'), '## Using it'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the build, the README and both licenses, and nothing of the repository besides (no build/, test/, bench/, src/*.ts)', () => {
    const outside = packed.filter((p) => !p.startsWith('dist/src/') && !['package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE'].includes(p));
    assert.deepEqual(outside, []);
    assert.ok(packed.filter((p) => p.endsWith('.js')).length > 50, `${packed.length} files`);
    assert.deepEqual(packed.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')), []);
    // "MIT OR Apache-2.0": the text of each license, and a copyright line for the MIT one.
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { license?: string };
    assert.equal(manifest.license, 'MIT OR Apache-2.0');
    assert.match(readFileSync(join(installed, 'LICENSE-MIT'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} the quic-peer authors\n[\s\S]*THE SOFTWARE IS PROVIDED "AS IS"/);
    assert.match(readFileSync(join(installed, 'LICENSE-APACHE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  });

  it('ships no source map that points at a file it does not ship', () => {
    const dangling: string[] = [];
    for (const js of packed.filter((p) => p.endsWith('.js'))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(installed, js), 'utf8'))?.[1];
      if (url === undefined) continue;
      const map = posix.join(posix.dirname(js), url);
      if (!packed.includes(map)) {
        dangling.push(`${js} -> ${map}`);
        continue;
      }
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
      for (const source of sources) if (!packed.includes(posix.join(posix.dirname(map), source))) dangling.push(`${map} -> ${source}`);
    }
    assert.deepEqual(dangling, []);
  });

  it('brings only the runtime dependencies src imports (@noble/hashes, ws for relays, @peculiar/x509 and its own)', () => {
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const packages = Object.keys(lock.packages).filter((k) => k !== '').map((k) => k.replace(/^.*node_modules\//, ''));
    // @peculiar/x509 (certificate generation, X.509 mode only: imported lazily) brings the rest.
    const peculiar = ['@peculiar/asn1-cms', '@peculiar/asn1-csr', '@peculiar/asn1-ecc', '@peculiar/asn1-pfx', '@peculiar/asn1-pkcs8', '@peculiar/asn1-pkcs9',
      '@peculiar/asn1-rsa', '@peculiar/asn1-schema', '@peculiar/asn1-x509', '@peculiar/asn1-x509-attr', '@peculiar/utils', '@peculiar/x509',
      'asn1js', 'pvtsutils', 'pvutils', 'reflect-metadata', 'tslib', 'tsyringe'];
    assert.deepEqual([...new Set(packages)].sort(), ['@noble/hashes', ...peculiar, 'quic-peer', 'ws'].sort());
  });

  it('has a README whose images and links work on the registry page (absolute URLs or anchors only)', () => {
    // npmjs.com resolves a relative path against the package's repository, and the package names
    // none (no public URL is known), so a relative image or link would show broken there.
    const readme = readFileSync(join(installed, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)[^)]*\)|<img[^>]*\ssrc="([^"]+)"|<a[^>]*\shref="([^"]+)"/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
    assert.ok(targets.length > 0, 'the README has links');
    assert.deepEqual(targets.filter((t) => !/^(?:https:\/\/|#)/.test(t)), []);
  });

  it('ships every file package.json points at (main, types, exports, typesVersions, bin)', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as unknown;
    const targets = [...new Set(relativePaths(manifest).map((p) => p.replace(/^\.\//, '')))];
    assert.ok(targets.length >= 5, `found ${targets.join(', ')}`);
    assert.deepEqual(targets.filter((p) => p !== 'package.json' && !packed.includes(p)), []);
  });

  it('runs the README example as an ES module', async () => {
    writeFileSync(join(app, 'example.mjs'), example);
    assertExampleRan(await run([process.execPath, 'example.mjs'], app, 30_000, false));
  });

  it('runs the README example as CommonJS through require() (Node >= 20.19; ERR_REQUIRE_ESM before)', async () => {
    const body = example.replace(/^import \{([^}]*)\} from '(quic-peer(?:\/handles)?)';$/gm, "const {$1} = require('$2');");
    assert.doesNotMatch(body, /^import /m, 'every import became a require()');
    // CommonJS has no top-level await: the example's body runs in an async function.
    const lines = body.split('\n');
    const requires = lines.filter((l) => l.includes('require('));
    const rest = lines.filter((l) => !l.includes('require('));
    writeFileSync(join(app, 'example.cjs'), `${requires.join('\n')}\n(async () => {\n${rest.join('\n')}\n})().catch((e) => {\n  console.error(e);\n  process.exitCode = 1;\n});\n`);
    const r = await run([process.execPath, 'example.cjs'], app, 30_000, false);
    // `process.features.require_module` is how Node says it can require() an ES module (20.19+,
    // 22.12+); older versions throw ERR_REQUIRE_ESM, as the README says.
    if ((process.features as { require_module?: boolean }).require_module) assertExampleRan(r);
    else assert.match(r.stderr, /ERR_REQUIRE_ESM/);
  });

  it('runs the README example as strict TypeScript compiled against the installed declarations', async () => {
    writeFileSync(join(app, 'example.mts'), example);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          // The package's own declarations are checked too, as a consumer without skipLibCheck does.
          skipLibCheck: false,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          types: ['node'],
          outDir: 'out',
        },
        files: ['example.mts'],
      }),
    );
    await run([process.execPath, tsc, '-p', 'tsconfig.json'], app, 60_000);
    assertExampleRan(await run([process.execPath, join('out', 'example.mjs')], app, 30_000, false));
  });

  it('resolves quic-peer and quic-peer/handles, types included, for moduleResolution node10 and require()', async () => {
    // A CommonJS TypeScript project of the old style: `typesVersions` is what maps the subpath.
    writeFileSync(
      join(app, 'old-style.ts'),
      [
        "import { Endpoint, type EndpointOptions } from 'quic-peer';",
        "import { HandleStore, createEndpointHandles, type EndpointHandles } from 'quic-peer/handles';",
        "const options: EndpointOptions = { bind: '127.0.0.1:0' };",
        'const handles: ((ep: Endpoint) => EndpointHandles) = createEndpointHandles;',
        "console.log(typeof Endpoint.bind, typeof HandleStore, typeof handles, options.bind);",
        '',
      ].join('\n'),
    );
    const flags = ['--strict', '--skipLibCheck', 'false', '--module', 'commonjs', '--moduleResolution', 'node10', '--target', 'ES2022', '--types', 'node'];
    await run([process.execPath, tsc, ...flags, '--outDir', 'out-node10', 'old-style.ts'], app, 60_000);
    const r = await run([process.execPath, join('out-node10', 'old-style.js')], app, 30_000, false);
    if ((process.features as { require_module?: boolean }).require_module) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'function function function 127.0.0.1:0');
    } else {
      assert.match(r.stderr, /ERR_REQUIRE_ESM/);
    }
  });

  it('installs the quic-peer command', async () => {
    const r = await run([join(app, 'node_modules/.bin/quic-peer'), '--help'], app, 30_000);
    assert.match(r.stdout, /quic-peer listen/);
  });
});

/** Runs `argv` in `cwd` within `timeoutMs` (the whole process group is killed then); by default, fails unless it exits 0. */
async function run(argv: string[], cwd: string, timeoutMs: number, mustSucceed = true): Promise<RunResult> {
  const r = await runGrouped(argv, { cwd, timeoutMs, env: { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  const what = `${argv.map((a) => a.replace(root, '<repo>')).join(' ')} in ${cwd}`;
  assert.ok(!r.timedOut, `${what}: not done within ${timeoutMs} ms\n${r.stdout}${r.stderr}`);
  if (mustSucceed) assert.equal(r.code, 0, `${what} exited ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r;
}

/** What the README promises the example prints, and a clean exit. */
function assertExampleRan(r: RunResult): void {
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /talking to [0-9a-f]{64} over /);
  assert.match(r.stdout, /^hello$/m);
}

/** The first ```ts block after `heading` in `markdown`. */
function codeBlockAfter(markdown: string, heading: string): string {
  const section = markdown.split(heading)[1];
  assert.ok(section !== undefined, `README has no '${heading}' section`);
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, `no ts code block after '${heading}'`);
  return block;
}

/**
 * `code` with every `Endpoint.bind` that names no bind address bound to 127.0.0.1 (by default an
 * endpoint may bind every interface; this test must never put a packet anywhere but loopback),
 * after checking that every bind ends up on loopback.
 */
function loopbackOnly(code: string): string {
  const out = code.replace(/Endpoint\.bind\(\)/g, 'Endpoint.bind({})').replace(/Endpoint\.bind\(\{(?![^}]*\bbind:)/g, "Endpoint.bind({ bind: '127.0.0.1:0',");
  const binds = out.match(/Endpoint\.bind\([^)]*\)/g) ?? [];
  assert.ok(binds.length >= 2, `the example binds a listener and a dialer: ${binds.join(', ')}`);
  for (const b of binds) assert.match(b, /\bbind: '(?:127\.0\.0\.1|\[::1\]):\d+'/, `${b} binds loopback only`);
  return out;
}

/** Every path in the manifest's path fields (the values, at any depth: exports and typesVersions nest). */
function relativePaths(manifest: unknown): string[] {
  const m = manifest as Record<string, unknown>;
  const walk = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(walk) : v && typeof v === 'object' ? Object.values(v).flatMap(walk) : [];
  return [m['main'], m['types'], m['exports'], m['typesVersions'], m['bin']].flatMap(walk);
}
