#!/usr/bin/env node
/**
 * The `quic-peer` command. Subcommands live in their own modules; this file dispatches on the
 * first word, prints help and the version, and ends every subcommand the same way (exit.ts): one
 * line on stderr for a failure, 2 for a usage error, 1 for any other failure, 130 after Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { releaseStdin } from './common.js';
import { runConnect } from './connect.js';
import { runDemo } from './demo.js';
import { runGet } from './get.js';
import { runServe } from './serve.js';
import { EXIT_STATUS_HELP, exitStatusOf, watchStopSignals, type StopSignal } from './exit.js';
import { runListen } from './listen.js';
import { runRelay } from './relay.js';

const HELP = `quic-peer: a pure TypeScript QUIC peer that speaks iroh's dialect

Usage:
  quic-peer demo [--help]       listener and dialer in one process: handshake, echo, datagrams,
                                a 100 MB transfer (what 'npm start' runs)
  quic-peer listen [--help]     accept sessions; pipe one stream, or --echo everything
  quic-peer connect [--help]    dial <id@ip:port | ticket> and pipe stdin/stdout over a stream
  quic-peer relay [--help]      an iroh relay server (iroh nodes and quic-peer meet through it)
  quic-peer get [--help]        download https:// URLs over HTTP/3 or hq-interop (X.509)
  quic-peer serve [--help]      serve a directory over HTTP/3 and hq-interop (X.509)
  quic-peer --help              this text
  quic-peer --version           the version

${EXIT_STATUS_HELP}`;

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return 0;
    case '--version':
      process.stdout.write(`quic-peer ${version()}\n`);
      return 0;
    case 'demo':
      return runDemo(rest, signal);
    case 'listen':
      return runListen(rest, signal);
    case 'connect':
      return runConnect(rest, signal);
    case 'relay':
      return runRelay(rest, signal);
    case 'get':
      return runGet(rest, signal);
    case 'serve':
      return runServe(rest, signal);
    case undefined:
      throw new UsageError(`a command is needed\n\n${HELP}`);
    default:
      throw new UsageError(`unknown command '${cmd}'\n\n${HELP}`);
  }
}

/** The package's version, from the package.json two levels above the compiled `src/cli`. */
function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  return typeof v === 'string' ? v : 'unknown';
}

const stopped = watchStopSignals();
main(process.argv.slice(2), stopped)
  .then(
    (code) => code,
    (err: unknown) => {
      // Once interrupted, whatever failed did so because we closed it: the signal is the story.
      if (stopped.aborted) return 0;
      const msg = err instanceof Error ? err.message : String(err);
      // One line, except that an unknown command is followed by the help (after a blank line).
      const [first, ...more] = msg.split('\n');
      const rest = err instanceof UsageError && more[0] === '' ? `${more.join('\n')}\n` : '';
      process.stderr.write(`quic-peer: ${first}\n${rest}`);
      return err instanceof UsageError ? 2 : 1;
    },
  )
  .then((code) => {
    releaseStdin();
    if (stopped.aborted) {
      const signal = stopped.reason as StopSignal;
      process.stderr.write(`quic-peer: interrupted (${signal}), sessions closed\n`);
      process.exitCode = exitStatusOf(signal);
    } else {
      process.exitCode = code;
    }
  });
