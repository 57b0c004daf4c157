#!/usr/bin/env node
/**
 * The `quic-peer` command. Subcommands live in their own modules; this file parses the first
 * word and prints help.
 */
import { runDemo } from './demo.js';

const HELP = `quic-peer: a pure TypeScript QUIC peer that speaks iroh's dialect

Usage:
  quic-peer demo [--help]     run the in-process demo (what 'npm start' runs)
  quic-peer --help            this text

More subcommands (listen, connect) arrive with the UDP endpoint.`;

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
    process.stderr.write(`quic-peer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
