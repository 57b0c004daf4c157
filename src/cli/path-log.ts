import type { Session, SessionPath } from '../index.js';

/**
 * The command's log of a session's path changes on stderr, so that a user sees from the shell a
 * session move from its relay to a direct path (multipath with iroh's NAT traversal, on by
 * default; `--no-multipath` turns it off). One line per change of a path's kind, address, status
 * or selection, as `path 1 direct 127.0.0.1:4433 selected` (a path not selected shows its status:
 * `available`, `backup`, `validating`), and `path 0 closed` when a path is gone. The paths the
 * session starts with are not printed (the command already said where it is): a single-path
 * session prints nothing.
 *
 * The public API has no path event, so this looks at `session.paths()` every `intervalMs` (the
 * NAT traversal moves a session within a few hundred ms) until the session closes; the timer
 * does not keep the process alive.
 */
export function watchPaths(session: Session, print: (line: string) => void, intervalMs = 200): () => void {
  let last = snapshot(session.paths());
  const timer = setInterval(() => {
    const now = snapshot(session.paths());
    for (const line of pathChanges(last, now)) print(line);
    last = now;
  }, intervalMs);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  void session.closed.then(stop, stop);
  return stop;
}

/** A path as the log shows it, by path id. */
type Snapshot = Map<number, string>;

function snapshot(paths: readonly SessionPath[]): Snapshot {
  return new Map(paths.map((p) => [p.id, describePath(p)]));
}

/** `path 1 direct 127.0.0.1:4433 selected`: the path's id, kind, address and state. */
export function describePath(p: SessionPath): string {
  return `path ${p.id} ${p.kind} ${p.remoteAddress} ${p.selected ? 'selected' : p.status}`;
}

/** The lines that say how `after` differs from `before`: changed or new paths, then those gone. */
export function pathChanges(before: ReadonlyMap<number, string>, after: ReadonlyMap<number, string>): string[] {
  const out: string[] = [];
  for (const [id, line] of after) if (before.get(id) !== line) out.push(line);
  for (const id of before.keys()) if (!after.has(id)) out.push(`path ${id} closed`);
  return out;
}
