import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CryptoRandom, formatSecretKeyFile, generateSecretKey, parseSecretKeyFile } from '../index.js';
import { UsageError } from './args.js';

/**
 * Loads the secret key from `path`, or creates the file with a new key (mode 0600) when it does
 * not exist, so an endpoint keeps its id across runs.
 */
export function loadOrCreateSecret(path: string): Uint8Array {
  if (existsSync(path)) {
    try {
      return parseSecretKeyFile(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UsageError(`secret file ${path}: ${(e as Error).message}`);
    }
  }
  const key = generateSecretKey(new CryptoRandom());
  writeFileSync(path, formatSecretKeyFile(key), { mode: 0o600 });
  return key;
}

/** Writes to stdout, waiting for it to drain (backpressure from a slow consumer of the pipe). */
export function writeOut(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = process.stdout.write(chunk, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/** Pipes a readable web stream to stdout. */
export async function streamToStdout(r: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of r as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    await writeOut(chunk);
  }
  return n;
}

/** Pipes stdin into a writable web stream and closes it (FIN) at EOF. */
export async function stdinToStream(w: WritableStream<Uint8Array>): Promise<number> {
  const writer = w.getWriter();
  let n = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    n += chunk.length;
    await writer.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  await writer.close();
  return n;
}

export const stderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
