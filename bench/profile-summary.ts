/**
 * Where the time goes per packet: attributes the samples of a `node --cpu-prof` profile to the
 * components of bench/README.md's breakdown.
 *
 *   node build/bench/profile-summary.js FILE.cpuprofile... [--packets N]
 *
 * Each sample is charged to the first frame, walking from the sampled function toward the root,
 * that names a component (node:crypto's `update` under `seal` is AEAD, under `mask` header
 * protection; shared helpers such as range-set.ts and codec/ are transparent and charged to their
 * caller). Several files are summed (e.g. repeated runs). With --packets (data packets of all the
runs), also prints ns per packet. Percentages are of
 * the busy time: idle and startup (module loading, anything no rule names) are left out.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** [function name pattern or null, url pattern or null, component]: the first match wins. */
const RULES: Array<[RegExp | null, RegExp | null, string]> = [
  [/^\(garbage collector\)$/, null, 'GC'],
  [/^\(idle\)$/, null, 'idle'],
  [/^\(program\)$/, null, 'native, unattributed (program)'],
  [null, /node:dgram|udp_wrap/, 'dgram send/recv'],
  [/^(onMessage|transmit|flush|arm|resolve|onSent)$/, /session\/driver\.js/, 'UDP driver (session)'],
  [null, /crypto\/(aead|null)\.js/, 'AEAD seal/open'],
  [null, /crypto\/header-protection\.js/, 'header protection'],
  [null, /packet\/(header|protection|number)\.js/, 'packet header build/parse'],
  [null, /frames\/|packet-builder\.js/, 'frame encode/decode'],
  [null, /recovery\/pacer\.js|congestion\//, 'congestion/pacing'],
  [null, /recovery\/|connection\/(sent-packet|loss-recovery|path)\.js/, 'recovery/ACK bookkeeping'],
  [null, /streams\/|crypto-stream\.js/, 'stream send/recv'],
  [null, /connection\/transmit\.js/, 'transmit (what goes in a packet)'],
  [null, /quic\/connection\/|quic\/endpoint\//, 'connection/endpoint dispatch'],
  [null, /src\/session\/|node:internal\/webstreams/, 'session (WHATWG streams, events)'],
  [null, /node:internal\/(process\/task_queues|timers)|node:timers/, 'event loop (ticks, timers)'],
  [null, /test\/harness\//, 'in-memory harness (link, pair)'],
  [null, /bench\//, 'bench application'],
  [null, /src\/tls\/|@noble/, 'TLS handshake'],
];
const IDLE = 'idle';
const OTHER = 'startup, other';
const APP = 'bench application';

export function summarize(p: Profile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const category = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      for (const [fn, url, cat] of RULES) {
        if ((fn === null || fn.test(cf.functionName)) && (url === null || url.test(cf.url))) return cat;
      }
    }
    return OTHER;
  };
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const cats = new Map<string, number>();
  for (const [id, us] of self) {
    const c = category(id);
    cats.set(c, (cats.get(c) ?? 0) + us);
  }
  return cats;
}

function main(): void {
  const args = process.argv.slice(2);
  const pi = args.indexOf('--packets');
  const packets = pi >= 0 ? Number(args[pi + 1]) : 0;
  const files = args.filter((_, i) => pi < 0 || (i !== pi && i !== pi + 1));
  if (files.length === 0) throw new Error('usage: profile-summary FILE.cpuprofile... [--packets N]');
  const cats = new Map<string, number>();
  for (const file of files) {
    for (const [c, us] of summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile)) cats.set(c, (cats.get(c) ?? 0) + us);
  }
  let total = 0;
  for (const us of cats.values()) total += us;
  const excluded = (c: string): boolean => c === IDLE || c === OTHER || c === APP;
  let busy = 0;
  for (const [c, us] of cats) if (!excluded(c)) busy += us;
  const ms = (us: number): string => (us / 1000).toFixed(0);
  process.stdout.write(`total ${ms(total)} ms, busy ${ms(busy)} ms${packets ? `, ${packets} packets, ${Math.round((busy * 1000) / packets)} ns busy per packet` : ''}\n`);
  for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1])) {
    const pct = excluded(c) ? '' : `${((100 * us) / busy).toFixed(1)}%`;
    const ns = packets && pct ? `${Math.round((us * 1000) / packets)} ns/pkt` : '';
    process.stdout.write(`${ms(us).padStart(7)} ms ${pct.padStart(6)} ${ns.padStart(13)}  ${c}\n`);
  }
}

main();
