import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTRACT_KEYS } from '../../bench/common.js';

/**
 * The benchmark harness (bench/run.ts) in --smoke mode: every measurement path runs with tiny
 * sizes, and the last stdout line is one JSON object holding every key of PERF.md's contract,
 * each a number, or null with a note saying why (e.g. iroh where no loopback-only namespace can
 * be made).
 */
describe('bench --smoke', function () {
  this.timeout(90_000);

  it('prints every contract key as a number (or null with a note) on the last line', function () {
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(here, '..', '..', 'bench', 'run.js');
    assert.ok(existsSync(script), `${script} not built`);
    const r = spawnSync(process.execPath, [script, '--smoke', '--json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `bench exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
    const lines = r.stdout.trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown> & {
      notes: Record<string, string>;
      machine: { cores: number; node: string };
    };
    for (const k of CONTRACT_KEYS) {
      const v = last[k];
      if (v === null) {
        assert.equal(typeof last.notes[k], 'string', `${k} is null without a note`);
        assert.ok(!last.notes[k]!.startsWith('failed'), `${k} failed: ${last.notes[k]}`);
      } else {
        assert.equal(typeof v, 'number', `${k} is ${JSON.stringify(v)}`);
        assert.ok(Number.isFinite(v as number) && (v as number) >= 0, `${k} = ${String(v)}`);
      }
    }
    assert.ok(last.machine.cores >= 1);
    assert.equal(last.machine.node, process.version);
    // The quic-peer figures themselves must have been measured.
    for (const k of ['bulk_mbps', 'handshake_ms_p50', 'rtt_us_p50', 'pipeline_ceiling_mbps', 'tls_tcp_mbps', 'handshakes_per_s', 'tls_handshakes_per_s'] as const) {
      assert.equal(typeof last[k], 'number', `${k}: ${last.notes[k] ?? ''}`);
    }
    // The handshake rate and its node:tls anchor were timed in the same blocks, interleaved (the
    // record file the run names holds the details).
    const file = /written to (\S+)/.exec(r.stdout)?.[1];
    assert.ok(file !== undefined && existsSync(file), `no record file named in: ${r.stdout.slice(-500)}`);
    const record = JSON.parse(readFileSync(file, 'utf8')) as {
      details: {
        handshake_rate_blocks?: Array<{ quic: number; tls: number | null }>;
        pipeline_jumbo?: { mbps?: number; size?: number };
        bulk_jumbo?: { runs?: Array<{ sender_us_per_packet: number; sender_main_thread_share: number | null; receiver_main_thread_share: number | null }> };
      };
    };
    const blocks = record.details.handshake_rate_blocks ?? [];
    assert.ok(blocks.length >= 1 && blocks.every((b) => b.quic > 0 && (b.tls ?? 0) > 0), JSON.stringify(blocks));
    // The bare pipeline with jumbo's packets, and what each jumbo run cost both ends, main threads apart.
    const pj = record.details.pipeline_jumbo;
    assert.ok(pj !== undefined && pj.size === 65_507 && (pj.mbps ?? 0) > 0, JSON.stringify(pj));
    const jr = record.details.bulk_jumbo?.runs ?? [];
    assert.ok(jr.length >= 1, 'jumbo runs measured');
    for (const c of jr) {
      assert.ok(c.sender_us_per_packet > 0, JSON.stringify(c));
      // A smoke run lasts a few ms: /proc's 10 ms ticks may read 0 (or nothing) for a thread.
      for (const share of [c.sender_main_thread_share, c.receiver_main_thread_share]) {
        assert.ok(share === null || (typeof share === 'number' && share >= 0 && share <= 1), JSON.stringify(c));
      }
      assert.ok('sender_main_thread_share' in c && 'receiver_main_thread_share' in c, JSON.stringify(c));
    }
  });
});
