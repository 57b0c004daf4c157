import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { CryptoRandom, Endpoint, InvalidArgumentError, formatSecretKeyFile, generateSecretKey, parseSecretKeyFile, type EndpointOptions, type Session, type TransportOptions } from '../index.js';
import { opt, socketAddrOpts, type ParsedArgs } from './args.js';
import { CliError, systemReason } from './exit.js';

/**
 * Loads the secret key from `path`, or creates the file with a new key (mode 0600) when it does
 * not exist, so an endpoint keeps its id across runs. Failures name the option and the file.
 */
export function loadOrCreateSecret(path: string): Uint8Array {
  const fail = (why: string): never => {
    throw new CliError(`--secret-file ${path}: ${why}`);
  };
  if (existsSync(path)) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      fail(`cannot read: ${systemReason(e)}`);
    }
    try {
      return parseSecretKeyFile(text);
    } catch (e) {
      return fail(`not a secret key file: ${(e as Error).message}`);
    }
  }
  const key = generateSecretKey(new CryptoRandom());
  try {
    writeFileSync(path, formatSecretKeyFile(key), { mode: 0o600 });
  } catch (e) {
    fail(`cannot create: ${systemReason(e)}`);
  }
  return key;
}

/**
 * The help of `--no-multipath`, the same in every subcommand that makes connections, its text
 * starting at `column` (where the subcommand's other option texts start).
 */
export function noMultipathHelp(column: number): string {
  const pad = ' '.repeat(column);
  return [
    `  --no-multipath`.padEnd(column) + `offer neither multipath nor iroh's NAT traversal: one path, plain RFC 9000`,
    `${pad}(both are offered by default, as iroh does: a session through a relay`,
    `${pad}then moves to a direct path when one is found and faster)`,
  ].join('\n');
}

/** `base` with what `--no-multipath` says (`multipath: false`), when it is given. */
export function transportOptions(p: ParsedArgs, base: TransportOptions = {}): TransportOptions {
  return p.flags.has('no-multipath') ? { ...base, multipath: false } : base;
}

/**
 * Binds the endpoint a subcommand runs on, from the options every binding subcommand shares
 * (`--bind`, `--secret-file`, `--keylog`, `--qlog`, `--no-multipath`) over `base`. The files are
 * checked here first, so that a failure names the option rather than surfacing as a raw fs error.
 */
export async function bindEndpoint(p: ParsedArgs, base: EndpointOptions): Promise<Endpoint> {
  const bind = socketAddrOpts(p, 'bind');
  const secretFile = opt(p, 'secret-file');
  const keylog = opt(p, 'keylog');
  const qlogDir = opt(p, 'qlog');
  if (keylog !== undefined) {
    try {
      closeSync(openSync(keylog, 'a', 0o600));
    } catch (e) {
      throw new CliError(`--keylog ${keylog}: cannot open for appending: ${systemReason(e)}`);
    }
  }
  if (qlogDir !== undefined) {
    try {
      mkdirSync(qlogDir, { recursive: true });
    } catch (e) {
      throw new CliError(`--qlog ${qlogDir}: cannot create the directory: ${systemReason(e)}`);
    }
  }
  try {
    return await Endpoint.bind({
      ...base,
      ...(p.flags.has('no-multipath') ? { transport: transportOptions(p, base.transport) } : {}),
      ...(bind ? { bind } : {}),
      ...(secretFile !== undefined ? { secretKey: loadOrCreateSecret(secretFile) } : {}),
      ...(keylog !== undefined ? { keylog } : {}),
      ...(qlogDir !== undefined ? { qlogDir } : {}),
    });
  } catch (e) {
    // The endpoint reports a socket that will not bind with the OS error as cause.
    const cause = e instanceof InvalidArgumentError ? (e.cause as NodeJS.ErrnoException & { address?: string; port?: number } | undefined) : undefined;
    if (cause?.address !== undefined && cause.port !== undefined) {
      const where = cause.address.includes(':') ? `[${cause.address}]:${cause.port}` : `${cause.address}:${cause.port}`;
      throw new CliError(`${bind ? '--bind ' : ''}${where}: cannot bind: ${systemReason(cause)}`);
    }
    throw e;
  }
}

/** Writes to stdout, waiting for it to drain (backpressure from a slow consumer of the pipe). */
export function writeOut(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = process.stdout.write(chunk, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/** Pipes a readable web stream to stdout, counting the bytes through `onBytes`. */
export async function streamToStdout(r: ReadableStream<Uint8Array>, onBytes: (n: number) => void = () => {}): Promise<void> {
  for await (const chunk of r as unknown as AsyncIterable<Uint8Array>) {
    onBytes(chunk.length);
    await writeOut(chunk);
  }
}

/** Whether stdin is a terminal (a background job that reads it is stopped by SIGTTIN). */
export function stdinIsTerminal(): boolean {
  return isatty(0);
}

let stdinUsed = false;

/** Pipes stdin into a writable web stream and closes it (FIN) at EOF, counting through `onBytes`. */
export async function stdinToStream(w: WritableStream<Uint8Array>, onBytes: (n: number) => void = () => {}): Promise<void> {
  const writer = w.getWriter();
  stdinUsed = true;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    onBytes(chunk.length);
    await writer.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  await writer.close();
}

/**
 * Stops reading stdin, if anything did: a read pending on a terminal or an idle pipe would keep
 * the process alive after the command is done or interrupted.
 */
export function releaseStdin(): void {
  if (stdinUsed) process.stdin.destroy();
}

/**
 * Why a piped transfer failed: when the session is gone, how it ended (the peer's code and
 * reason say more than the stream's error); else the stream's error.
 */
export async function transferFailure(s: Session, e: unknown): Promise<CliError> {
  const ended = await Promise.race([s.closed, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
  if (ended) {
    return new CliError(`the session closed before the transfer completed (code ${String(ended.closeCode)}${ended.reason ? `: ${ended.reason}` : ''})`);
  }
  return new CliError(`the transfer did not complete: ${e instanceof Error ? e.message : String(e)}`);
}

export const stderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
