import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { filesUnder } from '../harness/files.js';

/**
 * House rule 15 (STYLE.md) and DESIGN.md "Who may import whom": layers import downward only, no two
 * src/ files depend on each other through any chain of imports, and no module grows past ~800 lines.
 *
 * Imports are read with the TypeScript parser (a devDependency already) rather than regular
 * expressions, so comments, strings and multi-line import lists cannot fool the scan. Every form
 * counts as an arrow, type-only ones included: a cycle of either kind means two files cannot be read
 * apart. Only relative specifiers are ours; npm packages and node: builtins are not.
 */

/** One import statement (or expression) of a file. */
interface ImportRef {
  specifier: string;
  /** `import type`, `export type ... from` or a type position `import('x').T`: erased at runtime. */
  typeOnly: boolean;
  /** 1-based line of the statement, for messages. */
  line: number;
}

/** Source file -> the files it imports, all as repo-relative paths with forward slashes. */
type Graph = Map<string, Set<string>>;

const MAX_LINES = 800;

describe('structure (STYLE.md rule 15, DESIGN.md "Who may import whom")', () => {
  it('the scan finds the sources and their imports (cannot pass vacuously)', () => {
    const { root, scan } = sources();
    assert.ok(scan.files.length >= 50, `only ${scan.files.length} files found under ${join(root, 'src')}`);
    const fromIndex = scan.graph.get('src/index.ts');
    assert.ok(fromIndex && fromIndex.size >= 5, `src/index.ts: expected >= 5 imports, found ${fromIndex?.size ?? 0}`);
    // Every relative specifier must name a real file, or its arrow would silently drop out.
    if (scan.unresolved.length > 0) assert.fail(`imports that resolve to no file:\n  ${scan.unresolved.join('\n  ')}`);
  });

  it('no import cycle among src/ files (type-only imports count)', () => {
    const { scan } = sources();
    const cycles = findCycles(scan.graph);
    const report = cycles.map((c) => formatCycleGroup(c, scan.typeOnlyEdges));
    if (report.length > 0) {
      assert.fail(`${report.length} group(s) of files import each other; each chain is a cycle to break:\n\n${report.join('\n\n')}`);
    }
  });

  it('layers import downward only', () => {
    const { scan } = sources();
    const offences: string[] = [];
    for (const [from, targets] of scan.graph) {
      for (const to of targets) {
        const why = layerViolation(from, to);
        if (why) offences.push(`${from} -> ${to}: ${why}`);
      }
    }
    offences.sort();
    if (offences.length > 0) assert.fail(`${offences.length} forbidden import(s):\n  ${offences.join('\n  ')}`);
  });

  it(`no src file is over ${MAX_LINES} lines`, () => {
    const { root, scan } = sources();
    const long = scan.files
      .map((f) => ({ f, n: lineCount(readFileSync(join(root, f), 'utf8')) }))
      .filter(({ n }) => n > MAX_LINES)
      .map(({ f, n }) => `${f}: ${n} lines`);
    if (long.length > 0) assert.fail(`files over ${MAX_LINES} lines (split them):\n  ${long.join('\n  ')}`);
  });

  describe('the tools of this test', () => {
    it('the import reader sees every form of import and ignores comments and strings', () => {
      const sample = [
        "import a from './a.js';",
        "import type { B } from './b.js';",
        "import {\n  c1,\n  type c2,\n} from './c.js';",
        "export { d } from './d.js';",
        "export type { E } from './e.js';",
        "export * from './f.js';",
        "import './g.js';",
        "const h = await import('./h.js');",
        "let i: import('./i.js').I;",
        "import { readFileSync } from 'node:fs';",
        "// import x from './not-a-comment.js';",
        "/* export * from './nor-a-block.js'; */",
        "const s = \"import y from './not-a-string.js'\";",
      ].join('\n');
      const refs = readImports('sample.ts', sample);
      assert.deepEqual(
        refs.map((r) => `${r.specifier}${r.typeOnly ? ' (type)' : ''}`),
        ['./a.js', './b.js (type)', './c.js', './d.js', './e.js (type)', './f.js', './g.js', './h.js', './i.js (type)', 'node:fs'],
      );
      assert.deepEqual(refs.slice(0, 4).map((r) => r.line), [1, 2, 3, 7]);
    });

    it('a dynamic import with a computed specifier is reported, not skipped', () => {
      assert.throws(() => readImports('x.ts', 'const m = "./a.js"; await import(m);'), /x\.ts:1: dynamic import/);
    });

    it('the cycle finder names every cycle of a small graph and no acyclic file', () => {
      // a -> b -> c -> a, and c -> b closes a second, shorter cycle inside the same group;
      // d imports itself; e <-> f; g -> a and a -> h hang off the cycle without being in one.
      const g = graph({ a: ['b', 'h'], b: ['c'], c: ['a', 'b'], d: ['d'], e: ['f'], f: ['e'], g: ['a'], h: [] });
      const cycles = findCycles(g);
      assert.deepEqual(
        cycles.map((group) => group.chains.map((chain) => chain.join(' -> '))),
        [['b -> c -> b', 'a -> b -> c -> a'], ['d -> d'], ['e -> f -> e']],
      );
      assert.deepEqual(cycles[0]?.files, ['a', 'b', 'c']);
    });

    it('the cycle finder finds nothing in an acyclic graph', () => {
      assert.deepEqual(findCycles(graph({ a: ['b', 'c'], b: ['c'], c: [], d: ['a'] })), []);
    });

    it('the layer rules forbid what DESIGN.md forbids and allow the rest', () => {
      const cases: Array<[string, string, boolean]> = [
        ['src/codec/reader.ts', 'src/codec/errors.ts', true],
        ['src/codec/reader.ts', 'src/tls/random.ts', false],
        ['src/tls/client.ts', 'src/codec/reader.ts', true],
        ['src/tls/client.ts', 'src/quic/errors.ts', false],
        ['src/quic/frames/decode.ts', 'src/tls/engine.ts', true],
        ['src/quic/endpoint/endpoint-core.ts', 'src/session/driver.ts', false],
        ['src/quic/errors.ts', 'src/handles/store.ts', false],
        ['src/session/session.ts', 'src/quic/errors.ts', true],
        ['src/session/session.ts', 'src/handles/store.ts', false],
        ['src/session/session.ts', 'src/cli/main.ts', false],
        ['src/handles/store.ts', 'src/session/session.ts', true],
        ['src/handles/store.ts', 'src/cli/common.ts', false],
        ['src/cli/main.ts', 'src/index.ts', true],
        ['src/cli/main.ts', 'src/handles/index.ts', true],
        ['src/cli/main.ts', 'src/cli/args.ts', true],
        ['src/cli/main.ts', 'src/session/endpoint.ts', false],
        ['src/cli/main.ts', 'src/handles/store.ts', false],
        ['src/relay/client.ts', 'src/relay/protocol.ts', true],
        ['src/relay/protocol.ts', 'src/tls/crypto.ts', true],
        ['src/relay/protocol.ts', 'src/codec/reader.ts', true],
        ['src/relay/client.ts', 'src/session/endpoint.ts', false],
        ['src/relay/client.ts', 'src/quic/errors.ts', false],
        ['src/quic/errors.ts', 'src/relay/protocol.ts', false],
        ['src/session/endpoint.ts', 'src/relay/client.ts', true],
        ['src/cli/get.ts', 'src/http/index.ts', true],
        ['src/cli/get.ts', 'src/http/qpack.ts', false],
        ['src/http/h3-client.ts', 'src/index.ts', true],
        ['src/http/qpack.ts', 'src/codec/bytes.ts', true],
        ['src/http/h3-client.ts', 'src/session/session.ts', false],
        ['src/http/hq.ts', 'src/tls/identity.ts', false],
        ['src/session/session.ts', 'src/http/index.ts', false],
        ['src/quic/errors.ts', 'src/http/errors.ts', false],
      ];
      for (const [from, to, allowed] of cases) {
        assert.equal(layerViolation(from, to) === undefined, allowed, `${from} -> ${to}`);
      }
    });
  });
});

/** Scanned once, on first use inside a test, so a scan error fails a test instead of the load. */
let scanned: { root: string; scan: Scan } | undefined;
function sources(): { root: string; scan: Scan } {
  if (!scanned) {
    const root = findRepoRoot();
    scanned = { root, scan: scanSources(root) };
  }
  return scanned;
}

// ---------------------------------------------------------------------------------------------
// Layer rules
// ---------------------------------------------------------------------------------------------

/** The public API the CLI is limited to: what package.json's "exports" ship. */
const PUBLIC_API = new Set(['src/index.ts', 'src/handles/index.ts', 'src/http/index.ts']);

/**
 * Why the arrow `from -> to` is forbidden, or undefined when it is allowed. A file's layer is its
 * first folder under src/ (src/index.ts is the public API, above every layer but the CLI).
 */
function layerViolation(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  switch (a) {
    case 'codec':
      return b === 'codec' ? undefined : 'src/codec imports nothing of ours outside src/codec';
    case 'tls':
      return b === 'tls' || b === 'codec' ? undefined : 'src/tls imports only src/codec (TLS knows nothing of QUIC)';
    case 'quic':
      return b === 'session' || b === 'handles' || b === 'cli' || b === 'relay' || b === 'http'
        ? 'src/quic never imports src/session, src/handles, src/cli, src/relay or src/http (the core knows no socket, timer or handle)'
        : undefined;
    case 'relay':
      return b === 'relay' || b === 'codec' || b === 'tls'
        ? undefined
        : 'src/relay imports only src/codec and src/tls (the relay protocol knows nothing of QUIC or sessions)';
    case 'session':
      return b === 'handles' || b === 'cli' || b === 'http'
        ? 'src/session never imports src/handles, src/http or src/cli (the Session API stands without the registry)'
        : undefined;
    case 'handles':
      return b === 'cli' || b === 'http' ? 'src/handles never imports src/cli or src/http (the library never imports its command)' : undefined;
    case 'http':
      // An application of the Session API, as any user's would be: the public API and the codec.
      return b === 'http' || b === 'codec' || to === 'src/index.ts'
        ? undefined
        : 'src/http imports only the public API (src/index.ts) and src/codec';
    case 'cli':
      return b === 'cli' || PUBLIC_API.has(to)
        ? undefined
        : 'src/cli imports only the public API (src/index.ts, src/handles/index.ts, src/http/index.ts)';
    default:
      return undefined;
  }
}

function layerOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] !== 'src') return 'outside';
  return parts.length > 2 ? (parts[1] ?? '') : 'root';
}

// ---------------------------------------------------------------------------------------------
// Reading the sources
// ---------------------------------------------------------------------------------------------

interface Scan {
  /** Repo-relative paths of every src/**\/*.ts file, sorted. */
  files: string[];
  graph: Graph;
  /** `from -> to` arrows made only of type-only imports, for the messages. */
  typeOnlyEdges: Set<string>;
  /** Relative specifiers that name no file, as `file:line specifier`. */
  unresolved: string[];
}

function scanSources(root: string): Scan {
  const files = filesUnder(join(root, 'src'), '.ts').map((f) => toRepoPath(root, f)).sort();
  const graph: Graph = new Map();
  const runtime = new Set<string>();
  const typeOnly = new Set<string>();
  const unresolved: string[] = [];
  for (const file of files) {
    const targets = new Set<string>();
    graph.set(file, targets);
    for (const ref of readImports(file, readFileSync(join(root, file), 'utf8'))) {
      // Only relative specifiers are ours: 'node:fs', '@noble/hashes/...' and the like are not.
      if (!ref.specifier.startsWith('.')) continue;
      const target = resolveSpecifier(join(root, file), ref.specifier);
      if (!target) {
        unresolved.push(`${file}:${ref.line} ${ref.specifier}`);
        continue;
      }
      const to = toRepoPath(root, target);
      targets.add(to);
      (ref.typeOnly ? typeOnly : runtime).add(`${file} -> ${to}`);
    }
  }
  for (const edge of runtime) typeOnly.delete(edge);
  return { files, graph, typeOnlyEdges: typeOnly, unresolved };
}

/**
 * The module specifiers of one file, in source order. Throws on a dynamic import whose specifier is
 * not a string literal: its arrow could not be checked, so the file must not pass unseen.
 */
function readImports(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const add = (spec: ts.Expression, typeOnly: boolean, at: ts.Node): void => {
    const line = sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
    if (!ts.isStringLiteralLike(spec)) {
      throw new Error(`${fileName}:${line}: dynamic import with a computed specifier cannot be checked`);
    }
    refs.push({ specifier: spec.text, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      // `import { type A }` still loads the module under verbatimModuleSyntax; only `import type` is erased.
      add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false, node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly, node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg) add(arg, false, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs;
}

/** NodeNext resolution of a relative specifier to a .ts source: './x.js' is written for './x.ts'. */
function resolveSpecifier(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
    join(base, 'index.ts'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}


function toRepoPath(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}

function lineCount(text: string): number {
  if (text.length === 0) return 0;
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

/**
 * The repository root: the nearest folder holding this package's package.json and src/index.ts,
 * searched upward from the compiled test (build/test/unit/) and then from the working directory,
 * so the test runs from any folder and from either the .ts or the compiled .js.
 */
function findRepoRoot(): string {
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (isRepoRoot(dir)) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`quic-peer's root (package.json + src/index.ts) not found above ${starts.join(' or ')}`);
}

function isRepoRoot(dir: string): boolean {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg) || !existsSync(join(dir, 'src', 'index.ts'))) return false;
  const parsed: unknown = JSON.parse(readFileSync(pkg, 'utf8'));
  return typeof parsed === 'object' && parsed !== null && 'name' in parsed && parsed.name === 'quic-peer';
}

// ---------------------------------------------------------------------------------------------
// Cycles
// ---------------------------------------------------------------------------------------------

/** A set of files that all reach each other, and cycles through it that cover every arrow inside. */
interface CycleGroup {
  files: string[];
  chains: string[][];
}

/**
 * The strongly connected components of `g` that contain a cycle (Tarjan), sorted by first file.
 * For each, one shortest cycle through every arrow inside the component: printing every elementary
 * cycle could be exponential, while this shows each arrow that has to go at least once.
 */
function findCycles(g: Graph): CycleGroup[] {
  const groups: CycleGroup[] = [];
  for (const scc of stronglyConnected(g)) {
    const members = new Set(scc);
    const [only] = scc;
    if (scc.length === 1 && only !== undefined && !g.get(only)?.has(only)) continue;
    const seen = new Set<string>();
    const chains: string[][] = [];
    for (const from of [...scc].sort()) {
      for (const to of [...(g.get(from) ?? [])].filter((t) => members.has(t)).sort()) {
        const back = shortestPath(g, members, to, from);
        if (!back) continue; // cannot happen inside a component; kept for the type checker
        const cycle = canonicalCycle([from, ...back.slice(0, -1)]);
        const key = cycle.join('\0');
        if (seen.has(key)) continue;
        seen.add(key);
        chains.push([...cycle, cycle[0] ?? '']);
      }
    }
    chains.sort((x, y) => x.length - y.length || x.join(' ').localeCompare(y.join(' ')));
    groups.push({ files: [...scc].sort(), chains });
  }
  return groups.sort((x, y) => (x.files[0] ?? '').localeCompare(y.files[0] ?? ''));
}

function stronglyConnected(g: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      for (;;) {
        const w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      out.push(scc);
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) connect(v);
  return out;
}

/** Breadth-first path `from` ... `to` using only `members`, both ends included. */
function shortestPath(g: Graph, members: Set<string>, from: string, to: string): string[] | undefined {
  const prev = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] ?? '';
    if (v === to) {
      const path = [to];
      for (let p = to; p !== from; ) {
        p = prev.get(p) ?? from;
        path.unshift(p);
      }
      return path;
    }
    for (const w of [...(g.get(v) ?? [])].sort()) {
      if (members.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return undefined;
}

/** The same cycle always prints the same way: rotated to start at its smallest file. */
function canonicalCycle(cycle: string[]): string[] {
  let start = 0;
  cycle.forEach((f, i) => {
    if (f < (cycle[start] ?? '')) start = i;
  });
  return [...cycle.slice(start), ...cycle.slice(0, start)];
}

function formatCycleGroup(group: CycleGroup, typeOnlyEdges: Set<string>): string {
  const lines = [`${group.files.length} file(s): ${group.files.join(', ')}`];
  for (const chain of group.chains) lines.push(`  ${chain.join(' -> ')}`);
  const typeOnly: string[] = [];
  for (const chain of group.chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      const edge = `${chain[i]} -> ${chain[i + 1]}`;
      if (typeOnlyEdges.has(edge) && !typeOnly.includes(edge)) typeOnly.push(edge);
    }
  }
  if (typeOnly.length > 0) lines.push(`  (type-only arrows: ${typeOnly.sort().join('; ')})`);
  return lines.join('\n');
}

function graph(edges: Record<string, string[]>): Graph {
  return new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));
}
