import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatSocketAddr } from './addressing.js';
import { ConnectError, InvalidArgumentError } from './errors.js';

/**
 * `host:port` for an X.509 dial: an IP address as it is, a host name resolved by the system's
 * resolver (the first address it gives, as curl and quic-go do). iroh dials never come here:
 * they name endpoints by id.
 */
export async function resolveHostPort(remote: string): Promise<{ address: string; host: string | undefined }> {
  const s = remote.trim();
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:]+):(\d{1,5})$/.exec(s);
  if (!m) throw new InvalidArgumentError(`"${remote}" is not "host:port", "ip:port" or "[ipv6]:port"`);
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 0xffff) throw new InvalidArgumentError(`"${remote}": port must be 1..65535`);
  if (isIP(host) !== 0) return { address: formatSocketAddr({ host, port }), host: undefined };
  let ip: string;
  try {
    ip = (await lookup(host)).address;
  } catch (e) {
    throw new ConnectError('no-address', `cannot resolve ${host}: ${(e as Error).message}`);
  }
  return { address: formatSocketAddr({ host: ip, port }), host };
}
