#!/usr/bin/env node
/**
 * The `quic-peer` command. Subcommands live in their own modules; this file dispatches on the
 * first word, prints help, and turns any failure into one line on stderr and a non-zero exit.
 */
import { UsageError } from './args.js';
import { runConnect } from './connect.js';
import { runDemo } from './demo.js';
import { runListen } from './listen.js';

const HELP = `quic-peer: a pure TypeScript QUIC peer that speaks iroh's dialect

Usage:
  quic-peer demo [--help]       listener and dialer in one process: handshake, echo, datagrams,
                                a 100 MB transfer (what 'npm start' runs)
  quic-peer listen [--help]     accept sessions; pipe one stream, or --echo everything
  quic-peer connect [--help]    dial <id@ip:port | ticket> and pipe stdin/stdout over a stream
  quic-peer --help              this text`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return cmd === undefined ? 2 : 0;
    case 'demo':
      return runDemo(rest);
    case 'listen':
      return runListen(rest);
    case 'connect':
      return runConnect(rest);
    default:
      process.stderr.write(`quic-peer: unknown command '${cmd}'\n\n${HELP}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`quic-peer: ${msg.split('\n')[0]}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
