import assert from 'node:assert/strict';
import { markdownTable, tableRows } from '../../../bench/table.js';

/** The README's benchmark table (bench/table.ts): ratios within one run and the targets. */
describe('bench table', () => {
  const run = {
    bulk_mbps: 400, pipeline_ceiling_mbps: 500, iroh_bulk_mbps: 40, bulk_streams16_mbps: 350,
    handshake_ms_p50: 3, handshake_ms_p99: 9, iroh_handshake_ms_p50: 2, handshakes_per_s: 499,
    datagrams_per_s: 100_000, datagram_loss: 0.009, heap_bytes_per_idle_conn: 60_000,
    bulk_inmem_nullkeys_mbps: 1199, rtt_us_p50: 500, tls_tcp_mbps: 5000,
    details: { heap_server_end: { heapPerConn: 32 * 1024 } },
  };
  const met = (rows: ReturnType<typeof tableRows>, key: string): boolean | null => rows.find((r) => r.key === key)!.met;

  it('marks each target from ratios within the run, at the boundaries', () => {
    const rows = tableRows(run);
    assert.equal(met(rows, 'bulk_mbps'), true); // 0.8 >= 0.8 ([perf2])
    assert.equal(met(rows, 'bulk_mbps vs iroh'), true); // 10 >= 10
    assert.equal(met(rows, 'bulk_streams16_mbps'), false); // 0.875 < 0.95
    assert.equal(met(tableRows({ ...run, bulk_streams16_mbps: 380 }), 'bulk_streams16_mbps'), true); // 0.95
    assert.equal(met(tableRows({ ...run, bulk_mbps: 399 }), 'bulk_mbps'), false); // 0.798 < 0.8
    assert.equal(met(tableRows({ ...run, iroh_bulk_mbps: 41 }), 'bulk_mbps vs iroh'), false); // 9.76 < 10
    assert.equal(met(rows, 'handshake_ms_p50'), true); // 1.5 <= 1.5 ([perf2])
    assert.equal(met(tableRows({ ...run, handshake_ms_p50: 3.01 }), 'handshake_ms_p50'), false); // 1.505 > 1.5
    assert.equal(met(rows, 'handshakes_per_s'), false); // 499 < 500
    assert.equal(met(rows, 'datagrams_per_s'), true); // 100,000 and 0.9%
    assert.equal(met(rows, 'heap_bytes_per_idle_conn'), true); // server end exactly 32 KiB
    assert.equal(met(rows, 'bulk_inmem_nullkeys_mbps'), false); // 2.9975 < 3
  });

  it('[perf2] keys: handshakes against node:tls, one end\'s heap, jumbo bulk, the native stacks with ratios', () => {
    const rows = tableRows({
      ...run, tls_handshakes_per_s: 800, heap_bytes_per_idle_conn_server_end: 16 * 1024, bulk_jumbo_mbps: 1599,
      ngtcp2_bulk_mbps: 1200, qp_from_ngtcp2_bulk_mbps: 600, ngtcp2_from_qp_bulk_mbps: 300,
      quicgo_bulk_mbps: null, qp_from_quicgo_bulk_mbps: null, quicgo_from_qp_bulk_mbps: null,
    });
    const row = (k: string): ReturnType<typeof tableRows>[number] => rows.find((r) => r.key === k)!;
    assert.equal(row('handshakes_per_s').target, '>= 0.9 x node:tls');
    assert.equal(row('handshakes_per_s').met, false); // 499 / 800 < 0.9
    assert.equal(tableRows({ ...run, tls_handshakes_per_s: 554 }).find((r) => r.key === 'handshakes_per_s')!.met, true); // 0.9007
    assert.equal(row('heap_bytes_per_idle_conn_server_end').met, true); // exactly 16 KiB
    assert.equal(row('bulk_jumbo_mbps').met, false); // 3.9975 < 4
    assert.equal(row('bulk_jumbo_mbps').anchor, 'bulk (x4.0)', 'no bare jumbo pipeline in the run: the bulk ratio alone');
    const withPipe = tableRows({ ...run, bulk_jumbo_mbps: 1600, details: { ...run.details, pipeline_jumbo: { mbps: 6400 } } }).find((r) => r.key === 'bulk_jumbo_mbps')!;
    assert.equal(withPipe.anchor, 'bulk (x4.0); bare pipeline of 65,507-byte packets 6,400 (x0.25)');
    assert.equal(withPipe.met, true, 'the target stays 4 x bulk');
    assert.match(row('ngtcp2_bulk_mbps').value, /client 600 \(x0\.50\); quic-peer server 300 \(x0\.25\)/);
    assert.equal(row('ngtcp2_bulk_mbps').met, null);
    assert.match(row('quicgo_bulk_mbps').anchor, /n\/a/, 'a stack not measured is listed as n/a');
    assert.equal(rows.find((r) => r.key === 'quinn_bulk_mbps'), undefined, 'a results file without the key has no row');
  });

  it('the handshake row shows the cold figures of the warm-up beside the warm ones, when the run has them', () => {
    const plain = tableRows(run).find((r) => r.key === 'handshake_ms_p50')!;
    assert.doesNotMatch(plain.value + plain.anchor, /cold/, 'a run from before the warm-up has no cold figure');
    const row = tableRows({ ...run, details: { ...run.details, handshake_warmup: { cold_p50_ms: 3.6 }, iroh: { cold_p50_ms: 1.25 } } }).find((r) => r.key === 'handshake_ms_p50')!;
    assert.equal(row.value, '3.00 ms (p99 9.0); cold 3.60 ms');
    assert.equal(row.anchor, 'iroh 2.00 ms (x1.50); cold 1.25 ms');
    assert.equal(row.met, true, 'the target is judged on the warm figures');
  });

  it('the bulk row shows the cold transfer, the default reader\'s and the shared server\'s figures and the sender\'s CPU per packet beside the pipeline\'s, when the run has them', () => {
    const plain = tableRows(run).find((r) => r.key === 'bulk_mbps')!;
    assert.equal(plain.anchor, 'pipeline ceiling 500 (x0.80)', 'a run from before has no CPU figures');
    assert.equal(plain.value, '400 Mbit/s', 'nor a cold figure');
    const details = { ...run.details, bulk_cpu: { sender_us_per_packet: 16.55 }, pipeline: { sender_us_per_packet: 13.08 }, bulk_warmup: { cold_mbps: 301.4 }, bulk_default_reader: { mbps: 352.6 }, bulk_shared_server: { mbps: 290.2 } };
    const row = tableRows({ ...run, details }).find((r) => r.key === 'bulk_mbps')!;
    assert.equal(row.value, '400 Mbit/s; cold 301; default reader 353; shared server 290', 'the first, unmeasured transfer, the default reader\'s and the shared server\'s figures beside the warm median');
    assert.equal(row.anchor, 'pipeline ceiling 500 (x0.80); sender CPU 16.6 us/packet, pipeline\'s 13.1');
    assert.equal(row.met, true);
    const unconnected = tableRows({ ...run, details: { ...details, pipeline_unconnected: { mbps: 470.2 } } }).find((r) => r.key === 'bulk_mbps')!;
    assert.equal(unconnected.anchor, 'pipeline ceiling 500 (x0.80); unconnected 470 (x0.85); sender CPU 16.6 us/packet, pipeline\'s 13.1', 'the pipeline on an unconnected socket, when the run has it');
  });

  it('a key that was not measured is n/a and not met; the table is Markdown', () => {
    const rows = tableRows({ ...run, iroh_bulk_mbps: null });
    assert.equal(met(rows, 'bulk_mbps vs iroh'), null);
    assert.match(rows.find((r) => r.key === 'bulk_mbps vs iroh')!.anchor, /iroh n\/a/);
    const md = markdownTable(run).split('\n');
    assert.equal(md[0], '| key | quic-peer | anchor, same run | target | met |');
    assert.equal(md.length, 2 + rows.length);
    assert.ok(md.some((l) => l.includes('`handshakes_per_s`') && l.endsWith('| **no** |')));
  });
});
