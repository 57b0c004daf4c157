import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { formatSocketAddr, parseSocketAddr, type SocketAddr } from './addressing.js';

/**
 * Which addresses an endpoint binds, advertises and dials.
 *
 * - Binding: without `bind`, an endpoint binds every interface, IPv4 and IPv6, as iroh and quinn
 *   do, so that it can reach other machines and be reached from them.
 * - Advertising (`addr()`, tickets): a socket bound to an unspecified address is listed as the
 *   host's interface addresses of its family. Only addresses a peer can dial are listed: never
 *   `0.0.0.0` or `::`, and never an IPv6 link-local address (fe80::/10), which means nothing
 *   without the zone (interface) of the machine that dials it, and tickets cannot carry a zone.
 * - Dialling: a remote may list several addresses; we dial one (no parallel attempts yet), the
 *   first that our sockets can reach, preferring an address that is not loopback: a loopback
 *   address in a ticket is only the peer's if the peer runs on this host, while its other
 *   addresses are its own wherever it runs.
 */

/** What `Endpoint.bind` binds when no `bind` is given: every interface (IPv6 skipped when unavailable). */
export const DEFAULT_BIND: readonly string[] = ['0.0.0.0:0', '[::]:0'];

/**
 * The addresses a peer can dial us at, given our bound socket addresses (`ip:port`): unspecified
 * ones expanded to `interfaces` (the host's, by default; none where the runtime refuses to list
 * them) of the same family; link-local IPv6 and unspecified addresses left out; deduplicated,
 * non-loopback first.
 */
export function advertisedAddrs(bound: readonly string[], interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const out: SocketAddr[] = [];
  // Read only for an unspecified bind: Deno asks for a permission (--allow-sys) to list them.
  let table = interfaces;
  for (const b of bound) {
    const a = parseSocketAddr(b);
    if (!isUnspecified(a)) {
      out.push(a);
      continue;
    }
    if (table === undefined) {
      try {
        table = networkInterfaces();
      } catch {
        // The runtime refuses to list them (Deno without --allow-sys): an unspecified socket
        // adds no address, the others still count.
        table = {};
      }
    }
    for (const list of Object.values(table)) {
      for (const i of list ?? []) {
        if ((i.family === 'IPv4' ? 4 : 6) !== a.family) continue;
        // Interface addresses come from the OS in its own text form (a zone suffix on some
        // platforms); one we cannot read is one we cannot advertise either.
        try {
          out.push(parseSocketAddr(formatSocketAddr({ host: i.address.split('%')[0]!, port: a.port })));
        } catch {
          // skipped
        }
      }
    }
  }
  const usable = out.filter((a) => unusableBecause(a) === undefined);
  const ordered = [...usable.filter((a) => !isLoopback(a)), ...usable.filter(isLoopback)];
  return [...new Set(ordered.map(formatSocketAddr))];
}

/**
 * The addresses to dial among a remote's `candidates`, best first (none: `why` says why each was
 * refused).
 */
export interface DialChoice {
  readonly addresses: readonly string[];
  readonly why: string;
}

/**
 * Picks the addresses to dial among `candidates` (canonical `ip:port`, in the remote's order) from
 * our sockets bound at `local`: every usable one, non-loopback first (a dial tries them all at
 * once and keeps the first the peer answers on). The driver sends to an address it has not heard
 * from yet from the first socket of the destination's family, so only that socket counts: one
 * bound to a loopback address reaches only loopback addresses (the OS refuses the rest with
 * EINVAL).
 */
export function pickDialAddresses(candidates: readonly string[], local: readonly string[]): DialChoice {
  const sockets = new Map<4 | 6, SocketAddr>();
  for (const l of local) {
    const a = parseSocketAddr(l);
    if (!sockets.has(a.family)) sockets.set(a.family, a);
  }
  const reachable: SocketAddr[] = [];
  const refused: string[] = [];
  for (const c of candidates) {
    const a = parseSocketAddr(c);
    const from = sockets.get(a.family);
    const why =
      unusableBecause(a) ??
      (from === undefined
        ? `no IPv${a.family} socket`
        : isLoopback(from) && !isLoopback(a)
          ? `our IPv${a.family} socket is bound to loopback (${formatSocketAddr(from)})`
          : undefined);
    if (why === undefined) reachable.push(a);
    else refused.push(`${c}: ${why}`);
  }
  const ordered = [...reachable.filter((a) => !isLoopback(a)), ...reachable.filter(isLoopback)];
  return { addresses: [...new Set(ordered.map(formatSocketAddr))], why: refused.join('; ') };
}

/** Why nobody can dial `a`, or undefined when it is a usable unicast address. */
function unusableBecause(a: SocketAddr): string | undefined {
  if (a.port === 0) return 'port 0';
  if (isUnspecified(a)) return 'an unspecified address';
  if (a.family === 6 && (firstGroup(a) & 0xffc0) === 0xfe80) return 'link-local, and no zone says which interface';
  if (a.family === 6 ? (firstGroup(a) & 0xff00) === 0xff00 : isIpv4MulticastOrBroadcast(a.host)) return 'not a unicast address';
  return undefined;
}

function isUnspecified(a: SocketAddr): boolean {
  return a.host === '0.0.0.0' || a.host === '::';
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3) or ::1 (RFC 4291 §2.5.3). */
function isLoopback(a: SocketAddr): boolean {
  return a.family === 4 ? a.host.startsWith('127.') : a.host === '::1';
}

/** The first 16-bit group of a canonical IPv6 host ("" when it starts with "::"). */
function firstGroup(a: SocketAddr): number {
  const g = a.host.split(':')[0]!;
  return g === '' ? 0 : parseInt(g, 16);
}

/** 224.0.0.0/4 multicast and the limited broadcast address: no QUIC peer answers there. */
function isIpv4MulticastOrBroadcast(host: string): boolean {
  const first = Number(host.split('.')[0]);
  return (first >= 224 && first <= 239) || host === '255.255.255.255';
}
