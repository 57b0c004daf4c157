/**
 * What one V8 heap snapshot holds that an earlier one of the same process did not ([perf2]): the
 * objects whose ids are new, their self sizes summed per constructor and per holder, divided by
 * the number of connections made between the two snapshots (bench/heap-idle.ts).
 *
 *   node build/bench/heap-diff.js BASE.heapsnapshot AFTER.heapsnapshot N [DEPTH]
 *
 * The holder of an object is the nearest object of a named class (ours: `Connection`, `SpaceState`,
 * ..., not `Object`, `Array` or a typed array) on its shortest path from the GC roots, with the
 * fields it goes through (the first `depth` of them): `Handshake.params` sums everything reached
 * first through that field.
 * It approximates retained sizes without a dominator tree: an object reachable two ways is charged
 * to the shorter way.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Summary rows: [key, bytes per connection, objects per connection], largest first. */
export interface HeapDiff {
  bytes: number;
  count: number;
  byClass: Array<[string, number, number]>;
  byHolder: Array<[string, number, number]>;
}

const GENERIC = new Set([
  'Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'Promise', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Uint8Array', 'Int32Array', 'Uint32Array', 'Float64Array', 'Uint16Array', 'Int8Array', 'Buffer', 'BigInt64Array', 'BigUint64Array',
  'Error', 'Date', 'RegExp', 'Function',
]);

function ids(path: string): Set<number> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields.length;
  const idAt = s.snapshot.meta.node_fields.indexOf('id');
  const out = new Set<number>();
  for (let i = 0; i < s.nodes.length; i += nf) out.add(s.nodes[i + idAt]!);
  return out;
}

/** Objects of `after` absent from `base`, per connection (`n` of them made in between). */
export function diffSnapshots(base: string, after: string, n: number, depth = 1): HeapDiff {
  const old = ids(base);
  const s = JSON.parse(readFileSync(after, 'utf8')) as Snapshot;
  const meta = s.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [fType, fName, fId, fSize, fEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const count = s.nodes.length / nf;
  const firstEdge = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i]! + s.nodes[i * nf + fEdges]! * ef;
  // Shortest paths from the root (node 0), weak edges left out: parent node and the edge's name.
  const parent = new Int32Array(count).fill(-1);
  const via = new Array<string>(count);
  parent[0] = 0;
  const queue = new Int32Array(count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const v = queue[head++]!;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) {
      const type = edgeTypes[s.edges[e + eType]!]!;
      if (type === 'weak') continue;
      const to = s.edges[e + eTo]! / nf;
      if (parent[to] !== -1) continue;
      parent[to] = v;
      const nameOrIndex = s.edges[e + eName]!;
      via[to] = type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : String(s.strings[nameOrIndex]);
      queue[tail++] = to;
    }
  }
  const name = (i: number): string => {
    const t = nodeTypes[s.nodes[i * nf + fType]!]!;
    const nm = s.strings[s.nodes[i * nf + fName]!]!;
    return t === 'object' || t === 'closure' ? nm : `(${t}${t === 'hidden' || t === 'native' ? ` ${nm}` : ''})`;
  };
  const named = (i: number): boolean =>
    nodeTypes[s.nodes[i * nf + fType]!] === 'object' && /^[A-Z]/.test(s.strings[s.nodes[i * nf + fName]!]!) && !GENERIC.has(s.strings[s.nodes[i * nf + fName]!]!);
  const byClass = new Map<string, [number, number]>();
  const byHolder = new Map<string, [number, number]>();
  let bytes = 0;
  let objects = 0;
  const add = (m: Map<string, [number, number]>, k: string, size: number): void => {
    const r = m.get(k);
    if (r) {
      r[0] += size;
      r[1]++;
    } else m.set(k, [size, 1]);
  };
  for (let i = 0; i < count; i++) {
    if (old.has(s.nodes[i * nf + fId]!)) continue;
    // Node's native objects (the embedder graph) are not on the V8 heap: heapUsed leaves them out.
    const t = nodeTypes[s.nodes[i * nf + fType]!];
    if (t === 'native' || t === 'synthetic') continue;
    const size = s.nodes[i * nf + fSize]!;
    bytes += size;
    objects++;
    add(byClass, name(i), size);
    let holder = 'unreachable';
    if (parent[i] !== -1) {
      // The edges from the holder down toward the object, the first `depth` of them.
      const path: string[] = [via[i]!];
      let p = parent[i]!;
      while (p !== 0 && !named(p)) {
        path.push(via[p]!);
        p = parent[p]!;
      }
      holder = `${p === 0 ? '(root)' : name(p)}.${path.reverse().slice(0, depth).join('.')}`;
    }
    add(byHolder, holder, size);
  }
  const rows = (m: Map<string, [number, number]>): Array<[string, number, number]> =>
    [...m].map(([k, [b, c]]): [string, number, number] => [k, b / n, c / n]).sort((a, b) => b[1] - a[1]);
  return { bytes: bytes / n, count: objects / n, byClass: rows(byClass), byHolder: rows(byHolder) };
}

if (process.argv[1]?.endsWith('heap-diff.js')) {
  const [base, after, n] = process.argv.slice(2);
  if (!base || !after) {
    process.stderr.write('usage: node build/bench/heap-diff.js BASE AFTER N\n');
    process.exit(2);
  }
  const d = diffSnapshots(base, after, Number(n ?? '1'), Number(process.argv[5] ?? '1'));
  console.log(JSON.stringify({ bytes: Math.round(d.bytes), count: d.count, byClass: d.byClass.slice(0, 40), byHolder: d.byHolder.slice(0, 60) }));
}
