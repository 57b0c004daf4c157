/** The matrix as markdown: one table per direction, stacks x cases, as interop.seemann.io shows it. */
import { CASES, CASE_INFO } from './stacks.js';
import type { CellResult } from './matrix.js';

const MARK = { pass: '✓', fail: '✗', unsupported: '–' } as const;

export function markdownTable(results: readonly CellResult[], meta: { date: string; quick: boolean; notes: Record<string, string> }): string {
  const stacks = [...new Set(results.map((r) => r.stack))];
  const cases = CASES.filter((c) => results.some((r) => r.case === c));
  const lines: string[] = [];
  const pass = results.filter((r) => r.status === 'pass').length;
  const fail = results.filter((r) => r.status === 'fail').length;
  lines.push(`Run of ${meta.date}${meta.quick ? ' (quick variant)' : ''}: ${pass} passed, ${fail} failed, ${results.length - pass - fail} unsupported by the peer.`, '');
  for (const ours of ['client', 'server'] as const) {
    lines.push(ours === 'client' ? '**quic-peer as client**, the stack as server:' : '**quic-peer as server**, the stack as client:', '');
    lines.push(`| stack | ${cases.join(' | ')} |`);
    lines.push(`|---|${cases.map(() => ':-:').join('|')}|`);
    for (const s of stacks) {
      if (!results.some((x) => x.stack === s && x.ours === ours && x.status !== 'unsupported')) continue; // e.g. Caddy has no client
      const cells = cases.map((c) => {
        const r = results.find((x) => x.stack === s && x.case === c && x.ours === ours);
        return r ? MARK[r.status] : ' ';
      });
      lines.push(`| ${s} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push(`✓ passed, ✗ failed, – not supported by the peer program. Cases: ${cases.map((c) => `${c}: ${CASE_INFO[c]}`).join('; ')}.`);
  lines.push('');
  for (const [s, n] of Object.entries(meta.notes)) lines.push(`- ${s}: ${n}.`);
  return lines.join('\n');
}
