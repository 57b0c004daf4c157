/**
 * Headless Chromium for the WebTransport tests: Debian's `chromium` (the binary, not the wrapper
 * script) driven by puppeteer-core, with no certificate flags (pages pass
 * `serverCertificateHashes`), no background traffic, and no name resolving but localhost. Runs only
 * inside a loopback-only network namespace (the caller checks; see netns.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env['QP_CHROMIUM'] ?? '/usr/lib/chromium/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root in CI
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication',
  // Nothing but loopback resolves (the namespace already has only lo).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1',
];

/** A page server on http://localhost:PORT/ (a secure context, where WebTransport exists). */
export async function pageServer(html: string): Promise<{ server: Server; url: string }> {
  const server = createServer((q, r) => {
    const ok = q.url === '/' || q.url?.startsWith('/?');
    r.writeHead(ok ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    r.end(ok ? html : '');
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://localhost:${port}/` };
}

export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
export interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<R>;
  waitForFunction(fn: string, options?: { timeout?: number }): Promise<unknown>;
  on(event: 'console', fn: (m: { text(): string }) => void): void;
}

/** Launches headless Chromium; `close()` also removes its profile and kills it if it lingers. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  const puppeteer = (await import('puppeteer-core')).default;
  const userDataDir = mkdtempSync(join(tmpdir(), 'qp-wt-profile-'));
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], userDataDir, protocolTimeout: 60_000 });
  return {
    newPage: () => browser.newPage() as unknown as Promise<Page>,
    close: async () => {
      const pid = browser.process()?.pid;
      await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
