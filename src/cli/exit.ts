import * as nodeUtil from 'node:util';

/**
 * How every subcommand ends: its exit status, its one-line failures, and Ctrl-C.
 *
 *   0    done
 *   1    failed while running (a file, a bind, a dial, a session): one line on stderr
 *   2    usage error (the command line itself is wrong): one line on stderr
 *   130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the sessions are closed first
 *
 * A signal does not kill the process: it aborts the `AbortSignal` the subcommand runs under, and
 * the subcommand closes its sessions (the peers see an application close, not an idle timeout)
 * and its endpoint before returning. A second signal exits at once.
 */

export const EXIT_STATUS_HELP = `Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM); on a signal the sessions are closed first (a second Ctrl-C exits at once).`;

/** A failure while running: exit status 1, with a message that names the option, file or peer. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** The signals that stop a subcommand, and their exit statuses (128 + the signal number). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/** The exit status of a command stopped by `signal`. */
export function exitStatusOf(signal: StopSignal): number {
  return STOP_SIGNALS[signal];
}

/**
 * Watches SIGINT and SIGTERM for the life of the process: the first one aborts `signal` with the
 * signal's name as reason; a second one exits at once.
 */
export function watchStopSignals(): AbortSignal {
  const ac = new AbortController();
  for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    process.on(name, () => {
      if (ac.signal.aborted) process.exit(exitStatusOf(ac.signal.reason as StopSignal));
      ac.abort(name);
    });
  }
  return ac.signal;
}

/**
 * A system error in words: "no such file or directory (ENOENT)" rather than Node's "ENOENT: no
 * such file or directory, open 'x'", whose path the caller's message already names.
 */
export function systemReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // Looked up defensively: not every runtime that runs Node code has the map.
  const map = typeof nodeUtil.getSystemErrorMap === 'function' ? nodeUtil.getSystemErrorMap() : undefined;
  const known = typeof err.errno === 'number' ? map?.get(err.errno) : undefined;
  if (known) return `${known[1]} (${known[0]})`;
  return e instanceof Error ? e.message : String(e);
}
