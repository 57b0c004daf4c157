/**
 * Which file of a served directory a request path names. The path is URL-decoded once and must
 * stay inside the root: `..` segments, NUL bytes, backslashes and symbolic links that lead outside
 * are refused (403), a missing file or a directory is 404. Nothing outside the root is ever opened.
 */
import { promises as fs } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Why a request path has no file: the HTTP status it maps to, and a message for the log. */
export class FileLookupError extends Error {
  override readonly name = 'FileLookupError';
  readonly status: 400 | 403 | 404;
  constructor(status: 400 | 403 | 404, message: string) {
    super(message);
    this.status = status;
  }
}

/** True when `child` is `root` itself or below it (both absolute and normalised). */
function inside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/**
 * The absolute path of the regular file that `urlPath` (as in `GET /a/b.bin`, query ignored)
 * names under `root`, or a FileLookupError.
 */
export async function resolveFile(root: string, urlPath: string): Promise<string> {
  const rawPath = urlPath.split('?')[0] ?? '';
  if (!rawPath.startsWith('/')) throw new FileLookupError(400, `request path '${urlPath}' does not start with /`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw new FileLookupError(400, `request path '${urlPath}' has a bad %-escape`);
  }
  if (decoded.includes('\0') || decoded.includes('\\')) throw new FileLookupError(400, `request path '${urlPath}' has a NUL or backslash`);
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new FileLookupError(403, `request path '${urlPath}' leaves the served directory`);
  const absRoot = resolve(root);
  const candidate = join(absRoot, ...segments);
  if (!inside(absRoot, candidate)) throw new FileLookupError(403, `request path '${urlPath}' leaves the served directory`);
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([fs.realpath(candidate), fs.realpath(absRoot)]);
  } catch {
    throw new FileLookupError(404, `no file for '${urlPath}'`);
  }
  // A symbolic link inside the root may point anywhere: follow it, then check again.
  if (!inside(realRoot, real)) throw new FileLookupError(403, `'${urlPath}' is a link to outside the served directory`);
  const st = await fs.stat(real).catch(() => undefined);
  if (!st || !st.isFile()) throw new FileLookupError(404, `no file for '${urlPath}'`);
  return real;
}
