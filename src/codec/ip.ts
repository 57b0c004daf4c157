/**
 * IP addresses in text (RFC 4291 §2.2, RFC 5952) and as bytes (4 or 16, network order): the forms
 * the session layer parses and prints and the core writes in frames that carry addresses (iroh's
 * n0 NAT traversal). Pure and allocation-light; no node:net.
 */

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** A strict dotted quad (four decimal parts 0-255, no leading zeros), or undefined. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!IPV4_PART.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** The dotted quad of 4 bytes. */
export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/**
 * RFC 4291 §2.2 text forms: eight groups of 1-4 hex digits, at most one "::" standing for one
 * or more zero groups, and optionally a dotted quad in place of the last two groups.
 */
export function parseIpv6(s: string): Uint8Array | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups: number[][] = [];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h]!;
    const g: number[] = [];
    if (half.length > 0) {
      const parts = half.split(':');
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        const isLastOfAddress = i === parts.length - 1 && h === halves.length - 1;
        if (isLastOfAddress && p.includes('.')) {
          const v4 = parseIpv4(p);
          if (!v4) return undefined;
          g.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        } else if (IPV6_GROUP.test(p)) {
          g.push(parseInt(p, 16));
        } else {
          return undefined;
        }
      }
    }
    groups.push(g);
  }
  let all: number[];
  if (halves.length === 1) {
    all = groups[0]!;
    if (all.length !== 8) return undefined;
  } else {
    const [head, tail] = [groups[0]!, groups[1]!];
    // "::" stands for at least one group (RFC 4291 §2.2 (2)).
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  all.forEach((v, i) => {
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/**
 * RFC 5952 §4 canonical text: lowercase, no leading zeros, the longest run of two or more zero
 * groups (the first, on a tie) as "::". RFC 5952 §5: an IPv4-mapped address ends in a dotted
 * quad (as Rust's `Ipv6Addr` prints it too).
 */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  if (g.slice(0, 5).every((v) => v === 0) && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((v) => v.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/**
 * `ip:port` (IPv4) or `[ip]:port` (IPv6, RFC 5952 text), the form of the endpoint's addresses
 * (what `node:dgram` reports, bracketed). An IPv4-mapped IPv6 address is written as its IPv4
 * address (`to_canonical`, as noq compares them).
 */
export function formatIpPort(ip: Uint8Array, port: number): string {
  if (ip.length === 4) return `${formatIpv4(ip)}:${port}`;
  if (isIpv4Mapped(ip)) return `${formatIpv4(ip.subarray(12))}:${port}`;
  return `[${formatIpv6(ip)}]:${port}`;
}

/**
 * The IP bytes (4 for IPv4 and IPv4-mapped IPv6, else 16) and port of an `ip:port` / `[ip]:port`
 * text, or undefined when it is not one (a relay path, a host name, a zone index).
 */
export function parseIpPort(address: string): { readonly ip: Uint8Array; readonly port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return undefined;
  const portText = address.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 0xffff) return undefined;
  const host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) {
    const b = parseIpv6(host.slice(1, -1));
    if (!b) return undefined;
    return { ip: isIpv4Mapped(b) ? b.slice(12) : b, port };
  }
  const b = parseIpv4(host);
  return b ? { ip: b, port } : undefined;
}

/** True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
function isIpv4Mapped(b: Uint8Array): boolean {
  if (b.length !== 16 || b[10] !== 0xff || b[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return true;
}
