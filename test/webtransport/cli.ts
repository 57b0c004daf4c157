/** Starts `quic-peer listen --webtransport` and reads the lines it prints on stderr (test helper). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

export interface WtListener {
  child: ChildProcess;
  url: string;
  hash: string;
  page: string;
  stderr: () => string;
  stop: () => Promise<void>;
}

export async function startWtListener(extra: string[] = ['--echo']): Promise<WtListener> {
  const child = spawn(process.execPath, [main, 'listen', '--webtransport', '--bind', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const url = /^webtransport (https:\/\/\S+)$/m.exec(err)?.[1];
    const hash = /^cert-hash sha-256 ([0-9a-f]{64})$/m.exec(err)?.[1];
    const page = /^demo page (http:\/\/localhost:\d+\/)/m.exec(err)?.[1];
    if (url && hash && page) {
      return {
        child,
        url,
        hash,
        page,
        stderr: () => err,
        stop: async () => {
          if (child.exitCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGINT');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          if (child.exitCode === null) child.kill('SIGKILL');
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`quic-peer listen --webtransport did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
