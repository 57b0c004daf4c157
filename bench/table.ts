/**
 * The README's benchmark table from a results file (the targets of issues #6 and [perf2], as ratios
 * within the run; the bulk rows judge [perf2]'s: 0.8 x ceiling, 10 x iroh, 16 streams >= 0.95 x bulk):
 *
 *   node build/bench/table.js [bench/results/<file>.json]   (default: the latest full run)
 *
 * Prints a Markdown table: each key, its value, the anchor it is compared with (from the same
 * run), the target and whether it is met.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/interop/iroh.js';

type Results = Record<string, unknown> & { details?: Record<string, unknown>; date?: string };

export interface Row {
  readonly key: string;
  readonly value: string;
  readonly anchor: string;
  readonly target: string;
  readonly met: boolean | null;
}

const num = (r: Results, k: string): number | null => (typeof r[k] === 'number' ? (r[k] as number) : null);
const f = (n: number | null, digits = 0): string => (n === null ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** The rows of the table for one run's results (a contract key may be null: then "n/a", not met). */
export function tableRows(r: Results): Row[] {
  const bulk = num(r, 'bulk_mbps');
  const ceiling = num(r, 'pipeline_ceiling_mbps');
  const iroh = num(r, 'iroh_bulk_mbps');
  const s16 = num(r, 'bulk_streams16_mbps');
  const hs = num(r, 'handshake_ms_p50');
  const irohHs = num(r, 'iroh_handshake_ms_p50');
  const hps = num(r, 'handshakes_per_s');
  const dps = num(r, 'datagrams_per_s');
  const dloss = num(r, 'datagram_loss');
  const heap = num(r, 'heap_bytes_per_idle_conn');
  // A key since [perf2]; older results files hold it in details only.
  const heapServer = num(r, 'heap_bytes_per_idle_conn_server_end') ?? (r.details?.['heap_server_end'] as { heapPerConn?: number } | undefined)?.heapPerConn ?? null;
  const tlsHps = num(r, 'tls_handshakes_per_s');
  const jumbo = num(r, 'bulk_jumbo_mbps');
  const inmem = num(r, 'bulk_inmem_nullkeys_mbps');
  // Since 2026-12-04 the handshake keys come after a warm-up (run.ts handshakeWarmup); its first
  // 200 handshakes are the cold figure, for quic-peer and for iroh.
  const warm = r.details?.['handshake_warmup'] as { cold_p50_ms?: number | null } | undefined;
  const coldHs = typeof warm?.cold_p50_ms === 'number' ? warm.cold_p50_ms : null;
  const irohDetails = r.details?.['iroh'] as { cold_p50_ms?: number | null } | undefined;
  const coldIroh = typeof irohDetails?.cold_p50_ms === 'number' ? irohDetails.cold_p50_ms : null;
  // Since 2026-12-04 20:30: CPU per data packet of the bulk sender and of the pipeline's sender
  // (seal, header protection and send alone), what the protocol adds to the ceiling's work.
  const cpu = (section: string, field: string): number | null => {
    const v = (r.details?.[section] as Record<string, unknown> | undefined)?.[field];
    return typeof v === 'number' ? v : null;
  };
  // Since 2026-12-04 21:00 the bulk runs come after unmeasured transfers; the first is the cold figure.
  const coldBulk = cpu('bulk_warmup', 'cold_mbps');
  // Since 2026-12-04 22:00 the server reads bulk_mbps's bytes with a BYOB reader; the same with a
  // default reader (a fresh chunk per read) is reported beside it.
  const defaultReader = cpu('bulk_default_reader', 'mbps');
  // Since 2026-12-04 23:30 bulk_mbps's server is a child of its own; the same upload to the server
  // of the handshake and datagram keys, after them, is reported beside it.
  const sharedServer = cpu('bulk_shared_server', 'mbps');
  const senderUs = cpu('bulk_cpu', 'sender_us_per_packet');
  const pipeUs = cpu('pipeline', 'sender_us_per_packet');
  // Since 2026-12-05: the same pipeline on an unconnected socket, as an endpoint sends.
  const unconnected = cpu('pipeline_unconnected', 'mbps');
  // Since 2026-12-05 10:30: the bare pipeline with jumbo's 65,507-byte packets.
  const jumboPipe = cpu('pipeline_jumbo', 'mbps');
  const rc = ratio(bulk, ceiling);
  const ri = ratio(bulk, iroh);
  const rs = ratio(s16, bulk);
  const rh = ratio(hs, irohHs);
  const rn = ratio(inmem, bulk);
  const ge = (x: number | null, t: number): boolean | null => (x === null ? null : x >= t);
  const le = (x: number | null, t: number): boolean | null => (x === null ? null : x <= t);
  return [
    {
      key: 'bulk_mbps',
      value: `${f(bulk)} Mbit/s${coldBulk !== null ? `; cold ${f(coldBulk)}` : ''}${defaultReader !== null ? `; default reader ${f(defaultReader)}` : ''}${sharedServer !== null ? `; shared server ${f(sharedServer)}` : ''}`,
      anchor: `pipeline ceiling ${f(ceiling)} (x${f(rc, 2)})${unconnected !== null ? `; unconnected ${f(unconnected)} (x${f(ratio(bulk, unconnected), 2)})` : ''}${senderUs !== null && pipeUs !== null ? `; sender CPU ${f(senderUs, 1)} us/packet, pipeline's ${f(pipeUs, 1)}` : ''}`,
      target: '>= 0.8 x ceiling',
      met: ge(rc, 0.8),
    },
    { key: 'bulk_mbps vs iroh', value: `${f(bulk)} Mbit/s`, anchor: `iroh ${f(iroh)} (x${f(ri, 1)})`, target: '>= 10 x iroh', met: ge(ri, 10) },
    { key: 'bulk_streams16_mbps', value: `${f(s16)} Mbit/s`, anchor: `bulk (x${f(rs, 2)})`, target: '>= 0.95 x bulk', met: ge(rs, 0.95) },
    {
      key: 'handshake_ms_p50',
      value: `${f(hs, 2)} ms (p99 ${f(num(r, 'handshake_ms_p99'), 1)})${coldHs === null ? '' : `; cold ${f(coldHs, 2)} ms`}`,
      anchor: `iroh ${f(irohHs, 2)} ms (x${f(rh, 2)})${coldIroh === null ? '' : `; cold ${f(coldIroh, 2)} ms`}`,
      target: '<= 1.5 x iroh',
      met: le(rh, 1.5),
    },
    tlsHps === null
      ? { key: 'handshakes_per_s', value: f(hps), anchor: '', target: '>= 500', met: ge(hps, 500) }
      : { key: 'handshakes_per_s', value: f(hps), anchor: `node:tls ${f(tlsHps)} (x${f(ratio(hps, tlsHps), 2)})`, target: '>= 0.9 x node:tls', met: ge(ratio(hps, tlsHps), 0.9) },
    { key: 'handshake_resumed_ms_p50', value: `${f(num(r, 'handshake_resumed_ms_p50'), 2)} ms`, anchor: `full ${f(hs, 2)} ms`, target: '', met: null },
    { key: 'handshakes_resumed_per_s', value: f(num(r, 'handshakes_resumed_per_s')), anchor: `full ${f(hps)}`, target: '', met: null },
    { key: 'zerortt_first_byte_ms', value: `${f(num(r, 'zerortt_first_byte_ms'), 2)} ms`, anchor: '', target: '', met: null },
    { key: 'datagrams_per_s', value: `${f(dps)} (loss ${f(dloss === null ? null : dloss * 100, 2)}%)`, anchor: '', target: '>= 100,000, loss < 1%', met: dps === null || dloss === null ? null : dps >= 100_000 && dloss < 0.01 },
    { key: 'heap_bytes_per_idle_conn', value: `${f(heap)} B both ends; ${f(heapServer)} B server end`, anchor: '', target: '<= 32 KiB', met: heapServer === null ? le(heap, 32 * 1024) : le(heapServer, 32 * 1024) },
    { key: 'heap_bytes_per_idle_conn_server_end', value: `${f(heapServer)} B`, anchor: `both ends ${f(heap)} B`, target: '<= 16 KiB', met: le(heapServer, 16 * 1024) },
    {
      key: 'bulk_jumbo_mbps',
      value: `${f(jumbo)} Mbit/s`,
      anchor: `bulk (x${f(ratio(jumbo, bulk), 1)})${jumboPipe !== null ? `; bare pipeline of 65,507-byte packets ${f(jumboPipe)} (x${f(ratio(jumbo, jumboPipe), 2)})` : ''}`,
      target: '>= 4 x bulk',
      met: ge(ratio(jumbo, bulk), 4),
    },
    ...nativeRows(r),
    { key: 'bulk_inmem_nullkeys_mbps', value: `${f(inmem)} Mbit/s`, anchor: `bulk (x${f(rn, 1)})`, target: '>= 3 x bulk', met: ge(rn, 3) },
    { key: 'rtt_us_p50', value: `${f(num(r, 'rtt_us_p50'))} us`, anchor: '', target: '', met: null },
    { key: 'tls_tcp_mbps', value: `${f(num(r, 'tls_tcp_mbps'))} Mbit/s`, anchor: '(anchor)', target: '', met: null },
    { key: 'wt_node_bulk_mbps', value: `${f(num(r, 'wt_node_bulk_mbps'))} Mbit/s`, anchor: `bulk (x${f(ratio(num(r, 'wt_node_bulk_mbps'), bulk), 2)})`, target: '', met: null },
    { key: 'wt_browser_bulk_mbps', value: `${f(num(r, 'wt_browser_bulk_mbps'))} Mbit/s`, anchor: `quic-peer's client (x${f(ratio(num(r, 'wt_browser_bulk_mbps'), num(r, 'wt_node_bulk_mbps')), 2)})`, target: '', met: null },
  ];
}

/**
 * One row per native stack: its own client and server, quic-peer's client downloading from its
 * server, its client downloading from quic-peer's server; the ratio is quic-peer's side over the
 * native pair's (no target: an honest comparison). Absent from results files before [perf2].
 */
function nativeRows(r: Results): Row[] {
  const rows: Row[] = [];
  for (const [k, name] of [['ngtcp2', 'ngtcp2 (C)'], ['quicgo', 'quic-go (Go)'], ['quinn', 'quinn (Rust)']] as const) {
    const native = num(r, `${k}_bulk_mbps`);
    const qpClient = num(r, `qp_from_${k}_bulk_mbps`);
    const qpServer = num(r, `${k}_from_qp_bulk_mbps`);
    if (native === null && qpClient === null && qpServer === null && !(`${k}_bulk_mbps` in r)) continue;
    rows.push({
      key: `${k}_bulk_mbps`,
      value: `quic-peer client ${f(qpClient)} (x${f(ratio(qpClient, native), 2)}); quic-peer server ${f(qpServer)} (x${f(ratio(qpServer, native), 2)}) Mbit/s`,
      anchor: `${name} to itself ${f(native)} Mbit/s`,
      target: '',
      met: null,
    });
  }
  return rows;
}

export function markdownTable(r: Results): string {
  const lines = ['| key | quic-peer | anchor, same run | target | met |', '|---|---|---|---|---|'];
  for (const row of tableRows(r)) lines.push(`| \`${row.key}\` | ${row.value} | ${row.anchor} | ${row.target} | ${row.met === null ? '' : row.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

function latestFull(): string {
  const dir = join(repoRoot(), 'bench', 'results');
  const files = readdirSync(dir).filter((n) => /^\d{4}-.*Z\.json$/.test(n)).sort();
  const last = files[files.length - 1];
  if (last === undefined) throw new Error(`no full run in ${dir}: run npm run bench`);
  return join(dir, last);
}

if (process.argv[1] !== undefined && /table\.js$/.test(process.argv[1])) {
  const file = process.argv[2] ?? latestFull();
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  process.stdout.write(`${file} (${String(r.date)})\n\n${markdownTable(r)}\n`);
}
