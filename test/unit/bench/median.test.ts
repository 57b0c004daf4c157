import assert from 'node:assert/strict';
import { medianFileName, medianRun } from '../../../bench/median.js';

/** bench/median.ts: the README's table is the median of several full runs, with spreads. */
describe('bench median', () => {
  const run = (bulk: number | null, hs: number, cold: number, irohCold: number | undefined, date: string): Record<string, unknown> => ({
    bulk_mbps: bulk,
    handshake_ms_p50: hs,
    mode: 'full',
    date,
    notes: { bulk_mbps: date },
    details: { handshake_warmup: { handshakes: 3000, cold_p50_ms: cold }, ...(irohCold === undefined ? {} : { iroh: { handshakes: 30, cold_p50_ms: irohCold } }) },
  });

  it('takes each key\'s median over the runs that measured it, with the spread, and the cold figures\' medians', () => {
    const m = medianRun([run(500, 1.4, 3.3, 1.2, 'a'), run(null, 1.3, 3.9, undefined, 'b'), run(400, 1.5, 3.2, 0.9, 'c')], ['A', 'B', 'C']);
    assert.equal(m['bulk_mbps'], 450, 'the median of the two runs that measured it');
    assert.equal(m['handshake_ms_p50'], 1.4);
    assert.deepEqual((m['spread'] as Record<string, unknown>)['bulk_mbps'], [400, 500]);
    assert.deepEqual(m['runs'], ['A', 'B', 'C']);
    assert.equal(m['mode'], 'median');
    assert.equal(m.date, 'c', 'dated by the last run');
    assert.deepEqual(m['notes'], { bulk_mbps: 'c' });
    const d = m.details as Record<string, Record<string, number>>;
    assert.equal(d['handshake_warmup']!['cold_p50_ms'], 3.3);
    assert.equal(d['handshake_warmup']!['handshakes'], 3000, 'the rest of the section is the last run\'s');
    assert.equal(d['iroh']!['cold_p50_ms'], 1.05);
    assert.deepEqual((m['spread'] as Record<string, unknown>)['details.handshake_warmup.cold_p50_ms'], [3.2, 3.9]);
  });

  it('takes the medians of the CPU per packet of the bulk sender, its receiver and the pipeline, of the cold transfer, of the shared server\'s and of jumbo\'s and its pipeline', () => {
    const withCpu = (sender: number, receiver: number | null, pipe: number, date: string): Record<string, unknown> => ({
      ...run(500, 1.4, 3.3, 1.2, date),
      details: { bulk_cpu: { sender_us_per_packet: sender, receiver_us_per_packet: receiver, runs: [date] }, pipeline: { sent_packets: 1, sender_us_per_packet: pipe }, pipeline_unconnected: { mbps: pipe * 60, sender_us_per_packet: pipe + 1 }, bulk_warmup: { cold_mbps: sender * 20 }, bulk_shared_server: { mbps: sender * 30, runs_mbps: [date] }, pipeline_jumbo: { mbps: pipe * 500 }, bulk_jumbo: { sender_us_per_packet: sender * 8, receiver_us_per_packet: receiver === null ? null : receiver * 6, runs_mbps: [date] } },
    });
    const m = medianRun([withCpu(17, 15, 13, 'a'), withCpu(16, null, 12, 'b'), withCpu(19, 16, 14, 'c')], ['A', 'B', 'C']);
    const d = m.details as Record<string, Record<string, unknown>>;
    assert.equal(d['bulk_cpu']!['sender_us_per_packet'], 17);
    assert.equal(d['bulk_cpu']!['receiver_us_per_packet'], 15.5, 'over the runs that measured it');
    assert.deepEqual(d['bulk_cpu']!['runs'], ['c'], 'the rest of the section is the last run\'s');
    assert.equal(d['pipeline']!['sender_us_per_packet'], 13);
    assert.equal(d['pipeline_unconnected']!['mbps'], 780, 'and of the pipeline on an unconnected socket');
    assert.equal(d['pipeline_unconnected']!['sender_us_per_packet'], 14);
    assert.equal(d['bulk_warmup']!['cold_mbps'], 340, 'and of the cold transfer');
    assert.equal(d['bulk_shared_server']!['mbps'], 510, 'and of the upload to the shared server');
    assert.deepEqual(d['bulk_shared_server']!['runs_mbps'], ['c']);
    assert.equal(d['pipeline_jumbo']!['mbps'], 6500, 'and of the bare jumbo pipeline');
    assert.equal(d['bulk_jumbo']!['sender_us_per_packet'], 136, 'and of the jumbo transfer\'s two ends');
    assert.equal(d['bulk_jumbo']!['receiver_us_per_packet'], 93);
    assert.deepEqual(d['bulk_jumbo']!['runs_mbps'], ['c']);
    assert.deepEqual((m['spread'] as Record<string, unknown>)['details.bulk_cpu.sender_us_per_packet'], [16, 19]);
  });

  it('names the file after the first and the last run, so two sets ending with the same run do not share it', () => {
    const r = (date: string): Record<string, unknown> => ({ bulk_mbps: 1, date });
    const nine = ['2026-12-05T10:39:15.010Z', '2026-12-05T10:46:09.000Z', '2026-12-05T10:53:08.954Z'].map(r);
    assert.equal(medianFileName(nine), 'median-2026-12-05T10-39--2026-12-05T10-53.json');
    assert.equal(medianFileName(nine), medianFileName([...nine]), 'the same set, the same name');
    assert.notEqual(medianFileName(nine.slice(1)), medianFileName(nine), 'a subset with the same last run');
  });

  it('a key no run measured is null; no run at all is an error', () => {
    const m = medianRun([run(null, 1, 2, undefined, 'a')], ['A']);
    assert.equal(m['bulk_mbps'], null);
    assert.throws(() => medianRun([], []), /no runs/);
  });
});
