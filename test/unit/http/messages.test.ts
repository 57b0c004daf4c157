import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { H3Error, H3_MESSAGE_ERROR } from '../../../src/http/errors.js';
import { FileLookupError, resolveFile } from '../../../src/http/files.js';
import { contentLength, parseRequestHead, parseResponseHead } from '../../../src/http/h3-message.js';
import { parseHqRequest } from '../../../src/http/hq.js';
import type { HeaderField } from '../../../src/http/qpack.js';

const f = (pairs: Array<[string, string]>): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));
const messageError = (e: unknown): boolean => e instanceof H3Error && e.code === H3_MESSAGE_ERROR && e.scope === 'stream';

describe('http/h3-message (RFC 9114 §4.2, §4.3)', () => {
  it('a GET with its pseudo-headers', () => {
    const h = parseRequestHead(f([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a:1'], [':path', '/x'], ['user-agent', 'u']]));
    assert.deepEqual([h.method, h.scheme, h.authority, h.path, h.fields.length], ['GET', 'https', 'a:1', '/x', 1]);
  });

  it('malformed requests are stream errors H3_MESSAGE_ERROR (§4.1.2)', () => {
    const bad: Array<[string, Array<[string, string]>]> = [
      ['no :path', [[':method', 'GET'], [':scheme', 'https']]],
      ['empty :path', [[':method', 'GET'], [':scheme', 'https'], [':path', '']]],
      ['pseudo after regular', [[':method', 'GET'], ['x', 'y'], [':scheme', 'https'], [':path', '/']]],
      ['pseudo twice', [[':method', 'GET'], [':method', 'GET'], [':scheme', 'https'], [':path', '/']]],
      ['unknown pseudo', [[':method', 'GET'], [':scheme', 'https'], [':path', '/'], [':status', '200']]],
      ['uppercase name', [[':method', 'GET'], [':scheme', 'https'], [':path', '/'], ['X-A', '1']]],
      ['connection-specific', [[':method', 'GET'], [':scheme', 'https'], [':path', '/'], ['connection', 'close']]],
      ['transfer-encoding', [[':method', 'GET'], [':scheme', 'https'], [':path', '/'], ['transfer-encoding', 'chunked']]],
    ];
    for (const [what, fields] of bad) assert.throws(() => parseRequestHead(f(fields)), messageError, what);
  });

  it('responses: exactly one valid :status', () => {
    assert.equal(parseResponseHead(f([[':status', '200'], ['content-length', '5']])).status, 200);
    for (const fields of [[], [[':status', '20']], [[':status', '600']], [[':status', '200'], [':status', '200']], [[':status', '200'], [':path', '/']]] as Array<Array<[string, string]>>) {
      assert.throws(() => parseResponseHead(f(fields)), messageError, JSON.stringify(fields));
    }
  });

  it('content-length: absent, one value, repeated equal values; anything else is malformed', () => {
    assert.equal(contentLength(f([])), undefined);
    assert.equal(contentLength(f([['content-length', '42']])), 42);
    assert.equal(contentLength(f([['content-length', '7'], ['content-length', '7']])), 7);
    for (const v of [['-1'], ['1.5'], ['abc'], ['1', '2'], ['9999999999999999']]) {
      assert.throws(() => contentLength(f(v.map((x) => ['content-length', x]))), messageError, v.join(','));
    }
  });
});

describe('http/hq (hq-interop requests)', () => {
  it('parses GET /path with CRLF, LF or nothing after it; refuses the rest', () => {
    const p = (s: string): string | undefined => parseHqRequest(new TextEncoder().encode(s));
    assert.equal(p('GET /a.bin\r\n'), '/a.bin');
    assert.equal(p('GET /dir/b\n'), '/dir/b');
    assert.equal(p('GET /c'), '/c');
    for (const s of ['', 'POST /a\r\n', 'GET a\r\n', 'GET\r\n', 'GET /a b\r\n', 'get /a\r\n']) assert.equal(p(s), undefined, JSON.stringify(s));
  });
});

describe('http/files: a request path never leaves the served directory', () => {
  let root: string;
  let outside: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'qp-files-'));
    outside = mkdtempSync(join(tmpdir(), 'qp-files-out-'));
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'a b.txt'), 'x');
    writeFileSync(join(root, 'd', 'c'), 'y');
    writeFileSync(join(outside, 'secret'), 's');
    symlinkSync(join(outside, 'secret'), join(root, 'out'));
    symlinkSync(join(root, 'd', 'c'), join(root, 'in'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('finds files, %-decoded, query ignored, links inside the root followed', async () => {
    assert.equal(await resolveFile(root, '/a%20b.txt'), join(root, 'a b.txt'));
    assert.equal(await resolveFile(root, '/d/c?x=1'), join(root, 'd', 'c'));
    assert.equal(await resolveFile(root, '/./d//c'), join(root, 'd', 'c'));
    assert.equal(await resolveFile(root, '/in'), join(root, 'd', 'c'));
  });

  it('refuses each way out (403), bad paths (400), and what is not a file (404)', async () => {
    const cases: Array<[string, number]> = [
      ['/../secret', 403],
      ['/d/../../secret', 403],
      ['/%2e%2e/secret', 403],
      ['/%2E%2E%2Fsecret', 403],
      ['/out', 403],
      ['d/c', 400],
      ['/%zz', 400],
      ['/a%00', 400],
      ['/..%5csecret', 400],
      ['/nope', 404],
      ['/d', 404],
      ['/', 404],
    ];
    for (const [path, status] of cases) {
      await assert.rejects(resolveFile(root, path), (e: unknown) => e instanceof FileLookupError && e.status === status, `${path} -> ${status}`);
    }
  });
});
