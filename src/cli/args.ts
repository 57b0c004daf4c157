import { isIP } from 'node:net';

/**
 * A small command-line parser: `--flag`, `--opt value`, `--opt=value`, repeated options, and
 * positionals. Unknown options are errors with the name in the message (no silent typos).
 */
export interface OptionSpec {
  /** Takes a value (else a boolean flag). */
  readonly value?: boolean;
  /** May be given several times (values collected in order). */
  readonly repeat?: boolean;
}

export interface ParsedArgs {
  readonly options: Map<string, string[]>;
  readonly flags: Set<string>;
  readonly positionals: string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      if (a.startsWith('-') && a.length > 1 && a !== '-h') throw new UsageError(`unknown option '${a}'`);
      if (a === '-h') flags.add('help');
      else positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option '--${name}'`);
    if (!s.value) {
      if (eq >= 0) throw new UsageError(`option '--${name}' takes no value`);
      flags.add(name);
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = a.slice(eq + 1);
    else v = argv[++i];
    if (v === undefined || v === '') throw new UsageError(`option '--${name}' needs a value`);
    const list = options.get(name) ?? [];
    if (list.length > 0 && !s.repeat) throw new UsageError(`option '--${name}' given twice`);
    list.push(v);
    options.set(name, list);
  }
  return { options, flags, positionals };
}

/** The single value of `name`, or undefined. */
export function opt(p: ParsedArgs, name: string): string | undefined {
  return p.options.get(name)?.[0];
}

/** A positive integer option, or the default. */
export function intOpt(p: ParsedArgs, name: string, dflt: number): number {
  const v = opt(p, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`option '--${name}' must be a positive integer, got '${v}'`);
  return n;
}

/**
 * The socket addresses of a repeatable `ip:port` option (`[ipv6]:port` for IPv6; port 0 = any),
 * or undefined when it is not given. Checked here so that a typo is a usage error naming the
 * option, not a bind failure.
 */
export function socketAddrOpts(p: ParsedArgs, name: string): string[] | undefined {
  const values = p.options.get(name);
  if (!values) return undefined;
  for (const v of values) {
    const m = /^\[([^\]]*)\]:(\d{1,5})$/.exec(v) ?? /^([^:[\]]*):(\d{1,5})$/.exec(v);
    const host = m?.[1] ?? '';
    const family = v.startsWith('[') ? 6 : 4;
    if (!m || isIP(host) !== family || host.includes('%') || Number(m[2]) > 65535) {
      throw new UsageError(`option '--${name}' takes ip:port or [ipv6]:port (port 0 = any), got '${v}'`);
    }
  }
  return values;
}

/**
 * The values of an ALPN option, or undefined when it is not given. TLS carries an ALPN as 1 to
 * 255 bytes (RFC 7301 §3.1): a longer one is a usage error here rather than a library error later.
 */
export function alpnOpts(p: ParsedArgs, name: string): string[] | undefined {
  const values = p.options.get(name);
  for (const v of values ?? []) {
    const bytes = Buffer.byteLength(v, 'utf8');
    if (bytes > 255) throw new UsageError(`option '--${name}' takes at most 255 bytes, got ${bytes}`);
  }
  return values;
}

/**
 * The relay URLs of the repeatable `--relay` option (http://, https://, ws:// or wss://), or
 * undefined when it is not given; anything else is a usage error naming the option.
 */
export function relayOpts(p: ParsedArgs): string[] | undefined {
  const values = p.options.get('relay');
  for (const v of values ?? []) {
    let scheme = '';
    try {
      scheme = new URL(v).protocol;
    } catch {
      // reported below
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(scheme)) {
      throw new UsageError(`option '--relay' takes a relay URL (http://, https://, ws:// or wss://), got '${v}'`);
    }
  }
  return values;
}
