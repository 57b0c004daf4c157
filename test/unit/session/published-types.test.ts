import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder } from '../../harness/files.js';

/**
 * The declarations `npm run build` ships are the package's public API ([redesign] item 8): they
 * must not show the session layer's internals (the endpoint's clock, scheduler, dial and accept
 * queue, the session's per-connection state), their doc comments must not send a reader to files
 * that are not in the package, and what remains must type-check for a strict consumer.
 *
 * The declarations are built as `npm run build` builds them (tsconfig.json, so `stripInternal`
 * applies) into a throwaway `node_modules/quic-peer`, and a consumer imports `quic-peer` and
 * `quic-peer/handles` through the package's own `exports`.
 */

const root = join(fileURLToPath(import.meta.url), '../../../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** Identifiers of the session layer's internals: none may appear in a declaration a consumer reaches. */
const INTERNAL_NAMES = /\b(SessionState|SessionCore|EndpointCore|ConnectionHandle|StreamWaiters|ConnectionPort|readableFor|writableFor)\b/;
/** Members that are internal wherever they appear in the session layer's published declarations. */
const INTERNAL_MEMBERS = /^\s*(?:readonly\s+)?(?:core|state)\??\s*:|^\s*(?:now|schedule|dial|acceptNext|remoteAddress)\s*\(/m;
/** What a doc comment must not point at: documents and source files the package does not ship. */
const FOREIGN_REFERENCES = /DESIGN\.md|STYLE\.md|IROH\.md|PERF\.md|ARCHITECTURE\.md|\.\.\/shared|issue #|\bsrc\/[\w./-]+|\b[\w-]+\.ts\b|\bthe seed\b/;
describe('published types (the declarations `npm run build` ships)', function () {
  // Two compiler runs (~5 s each on an idle machine); generous for a loaded one.
  this.timeout(180_000);

  let work: string;
  let pkg: string;
  /** Entry points' declarations and every declaration they import, relative to the package root. */
  let reachable: string[];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'quic-peer-types-'));
    pkg = join(work, 'node_modules/quic-peer');
    mkdirSync(pkg, { recursive: true });
    const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--emitDeclarationOnly', '--declaration', '--outDir', join(pkg, 'dist')], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(built.status, 0, `tsc -p tsconfig.json failed:\n${built.stdout}${built.stderr}`);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; type: string; types: string; exports: Record<string, { types?: string } | string> };
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: manifest.name, type: manifest.type, types: manifest.types, exports: manifest.exports }));
    const entries = Object.values(manifest.exports).flatMap((e) => (typeof e === 'object' && e.types ? [join(pkg, e.types)] : []));
    assert.ok(entries.length >= 2, 'package.json exports name the declarations of both entry points');
    reachable = declarationsReachableFrom(entries).map((f) => relative(join(pkg, 'dist'), f));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('show none of the session layer internals (Endpoint.core, now, schedule, dial, acceptNext, Session.state, SessionState...)', () => {
    const offending: string[] = [];
    for (const f of reachable.filter((f) => f === 'src/index.d.ts' || f.startsWith('src/session/') || f.startsWith('src/handles/'))) {
      const text = readFileSync(join(pkg, 'dist', f), 'utf8');
      const name = INTERNAL_NAMES.exec(text);
      if (name) offending.push(`${f}: ${name[0]}`);
      const member = INTERNAL_MEMBERS.exec(text);
      if (member) offending.push(`${f}: ${member[0].trim()}`);
    }
    assert.deepEqual(offending, []);
    assert.ok(reachable.includes('src/session/session.d.ts') && reachable.includes('src/session/endpoint.d.ts'), 'the check saw Session and Endpoint');
  });

  it('doc comments cite nothing the package does not ship (design docs, source files, issues)', () => {
    const shipped = filesUnder(join(pkg, 'dist'), '.d.ts').map((f) => relative(join(pkg, 'dist'), f));
    // Every declaration of the session layer, the handles and the command ships, reachable or not;
    // of the others, those an application reaches from the entry points.
    const ours = (f: string): boolean => f === 'src/index.d.ts' || ['src/session/', 'src/handles/', 'src/cli/'].some((p) => f.startsWith(p));
    const checked = [...new Set([...shipped.filter(ours), ...reachable])];
    const offending: string[] = [];
    for (const f of checked) {
      for (const comment of readFileSync(join(pkg, 'dist', f), 'utf8').match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
        const m = FOREIGN_REFERENCES.exec(comment);
        if (m) offending.push(`${f}: "${m[0]}" in ${comment.split('\n').find((l) => l.includes(m[0]))?.trim()}`);
      }
    }
    assert.deepEqual(offending, []);
    assert.ok(checked.length > 10, `checked ${checked.length} files`);
  });

  it('type-check for a strict consumer of quic-peer and quic-peer/handles (and hide the internals from it)', () => {
    // The consumer resolves `quic-peer` through node_modules and the package's exports, as an
    // application would; @types/node is the only other package the declarations need.
    symlinkSync(join(root, 'node_modules/@types'), join(work, 'node_modules/@types'), 'dir');
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(work, 'consumer.ts'), CONSUMER);
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          // Check the package's declarations too: a reference to a stripped type is an error there.
          skipLibCheck: false,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable'],
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { cwd: work, encoding: 'utf8', timeout: 170_000 });
    const reported = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.deepEqual(reported, []);
    // A failure that printed no diagnostic (a crash, a timeout) is a failure too.
    assert.ok(r.status === 0 || reported.length > 0, `tsc failed without a diagnostic (status ${r.status}): ${r.stdout}${r.stderr}`);
  });
});

/**
 * Uses the public API as the README does, and touches each internal once under @ts-expect-error:
 * if a published declaration still showed it, the directive would be unused, which is an error.
 */
const CONSUMER = `
import {
  DEFAULT_ALPN, ConnectError, DatagramError, Endpoint, EndpointId, ReadLimitError, Session, StreamAbortedError, readAll, writeAll,
  type CloseInfo, type ConnectOptions, type ConnectionStats, type EndpointOptions, type SessionHost, type WaitOptions,
} from 'quic-peer';
import { createEndpointHandles, HandleStore, type EndpointHandles } from 'quic-peer/handles';

export async function use(): Promise<CloseInfo> {
  const options: EndpointOptions = { bind: '127.0.0.1:0', alpns: [DEFAULT_ALPN], transport: { maxIdleTimeoutMs: 5_000 } };
  const server = await Endpoint.bind(options);
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
  const host: SessionHost = client;
  const accepted: Promise<Session | null> = Session.accept(server, { signal: AbortSignal.timeout(1_000) });
  const connect: ConnectOptions = { directAddrs: server.boundAddresses, alpn: DEFAULT_ALPN, timeoutMs: 1_000, signal: AbortSignal.timeout(2_000) };
  void (async () => {
    for await (const incoming of server) {
      const st: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } | null = await incoming.nextBidiStream({ signal: AbortSignal.timeout(1_000) });
      if (st) await writeAll(st.writable, await readAll(st.readable, 1024));
    }
  })();
  const s = await Session.connect(host, server.ticket(), connect).catch((e: unknown) => {
    throw e instanceof ConnectError ? new Error(e.kind) : e;
  });
  const id: EndpointId = s.remoteId;
  const wait: WaitOptions = { signal: AbortSignal.timeout(1_000) };
  const { readable, writable } = await s.createBidirectionalStream(wait);
  const failed = (e: unknown): number | bigint | undefined => (e instanceof StreamAbortedError ? e.code : undefined);
  const tooLong = (e: unknown): number | undefined => (e instanceof ReadLimitError ? e.limit : undefined);
  const dropped = (e: unknown): boolean => e instanceof DatagramError && e.kind === 'queue-full';
  const datagram: Uint8Array | null = await s.recvDatagram(wait);
  void [tooLong, dropped, datagram];
  const stats: ConnectionStats = s.getStats();
  const handles: EndpointHandles = createEndpointHandles(server);
  const store: HandleStore<Session> = handles.store;
  void [accepted, id, readable, writable, failed, stats, store];

  // @ts-expect-error the endpoint's clock is internal
  client.now();
  // @ts-expect-error the endpoint's scheduler is internal
  client.schedule();
  // @ts-expect-error dialling is Session.connect's business
  void client.dial;
  // @ts-expect-error accepting is Session.accept's business
  void client.acceptNext;
  // @ts-expect-error the sans-IO endpoint core is internal
  void client.core;
  // @ts-expect-error addresses by connection handle are internal
  void client.remoteAddress;
  // @ts-expect-error the session's per-connection state is internal
  void s.state;
  // @ts-expect-error the session's endpoint is internal
  void s.host;
  // @ts-expect-error a SessionHost shows nothing internal either
  host.now();
  // @ts-expect-error sessions come from connect and accept only
  new Session();

  s.close({ closeCode: 0, reason: 'bye' });
  return s.closed;
}
`;

/** The .d.ts files `entries` import, directly or not (relative imports and re-exports). */
function declarationsReachableFrom(entries: string[]): string[] {
  const seen = new Set<string>();
  const todo = [...entries];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f)) continue;
    assert.ok(existsSync(f), `a declaration imports ${f}, which was not emitted`);
    seen.add(f);
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from\s+|import\(\s*)'(\.[^']+)'/g)) {
      todo.push(resolve(dirname(f), (m[1] ?? '').replace(/\.js$/, '.d.ts')));
    }
  }
  return [...seen].sort();
}

