import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { parseJsonSeq } from '../../src/session/qlog-files.js';
import { bytesEqual, concatBytes } from '../../src/codec/bytes.js';
import { SeededRandom } from '../../src/tls/random.js';

/**
 * qlog files over real UDP (issue #4): `Endpoint.bind({ qlogDir })` and `quic-peer listen|connect
 * --qlog DIR` write one JSON-SEQ file per connection per side, which parse record by record.
 */

const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

interface QlogFile {
  readonly name: string;
  readonly odcid: string;
  readonly role: string;
  readonly header: { qlog_version: string; qlog_format: string; trace: { vantage_point: { type: string }; common_fields: { ODCID: string; time_format: string; reference_time: number } } };
  readonly events: Array<{ time: number; name: string; data: Record<string, unknown> }>;
}

/** Reads and checks every qlog file of `dir` (RFC 7464 framing, the header first). */
function readQlogDir(dir: string): QlogFile[] {
  const out: QlogFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = /^([0-9a-f]{16,40})-(client|server)\.sqlog$/.exec(name);
    assert.ok(m, `unexpected file ${name}`);
    const text = readFileSync(join(dir, name), 'utf8');
    // RFC 7464: every record is RS + JSON + LF.
    assert.equal(text[0], '\x1e', `${name} starts with a record separator`);
    assert.equal(text.at(-1), '\n', `${name} ends with a line feed`);
    for (const part of text.split('\x1e').slice(1)) assert.ok(part.endsWith('\n') && !part.slice(0, -1).includes('\n'), 'one line per record');
    const records = parseJsonSeq(text) as Array<Record<string, unknown>>;
    const [header, ...events] = records;
    out.push({ name, odcid: m[1]!, role: m[2]!, header: header as unknown as QlogFile['header'], events: events as unknown as QlogFile['events'] });
  }
  return out;
}

function checkFile(f: QlogFile): void {
  assert.equal(f.header.qlog_format, 'JSON-SEQ');
  assert.equal(f.header.qlog_version, '0.3');
  assert.equal(f.header.trace.vantage_point.type, f.role);
  assert.equal(f.header.trace.common_fields.ODCID, f.odcid);
  assert.equal(f.header.trace.common_fields.time_format, 'relative');
  assert.ok(Math.abs(f.header.trace.common_fields.reference_time - Date.now()) < 120_000, 'reference_time is the wall clock (ms since the epoch)');
  assert.ok(f.events.length > 10, `${f.name}: ${f.events.length} events`);
  let last = 0;
  for (const e of f.events) {
    assert.ok(typeof e.time === 'number' && e.time >= last, `${f.name}: time ${e.time} after ${last}`);
    last = e.time;
    assert.match(e.name, /^(transport|recovery|security|connectivity):[a-z_]+$/);
    assert.equal(typeof e.data, 'object');
  }
  const names = new Set(f.events.map((e) => e.name));
  for (const n of ['transport:parameters_set', 'transport:packet_sent', 'transport:packet_received', 'recovery:metrics_updated', 'connectivity:connection_closed']) {
    assert.ok(names.has(n), `${f.name} has ${n}`);
  }
  const types = new Set(f.events.filter((e) => e.name === 'transport:packet_sent').map((e) => (e.data['header'] as { packet_type: string }).packet_type));
  assert.deepEqual([...types].sort(), ['1RTT', 'handshake', 'initial']);
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = r.getReader();
  for (let x = await reader.read(); !x.done; x = await reader.read()) chunks.push(x.value);
  return concatBytes(...chunks);
}

describe('qlog files', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'qp-qlog-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('Endpoint.bind({ qlogDir }): one parseable JSON-SEQ file per connection per side, header first', async () => {
    const dir = tempDir();
    const server = await Endpoint.bind({ bind: '127.0.0.1:0', qlogDir: join(dir, 'nested') });
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, qlogDir: join(dir, 'nested') });
    try {
      for (let i = 0; i < 2; i++) {
        const accepted = Session.accept(server);
        const s = await Session.connect(client, `${server.id.toString()}@${server.boundAddresses[0]}`);
        const peer = (await accepted)!;
        void (async () => {
          for (let st = await peer.nextBidiStream(); st; st = await peer.nextBidiStream()) void st.readable.pipeTo(st.writable).catch(() => {});
        })();
        const data = new SeededRandom(i + 1).fill(new Uint8Array(100_000));
        const { readable, writable } = await s.createBidirectionalStream();
        const w = writable.getWriter();
        await w.write(data);
        await w.close();
        assert.ok(bytesEqual(await readAll(readable), data));
        s.close({ closeCode: 0, reason: 'done' });
        await peer.closed;
      }
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
    const files = readQlogDir(join(dir, 'nested'));
    assert.equal(files.length, 4, files.map((f) => f.name).join(', '));
    const odcids = [...new Set(files.map((f) => f.odcid))];
    assert.equal(odcids.length, 2, 'two connections');
    for (const o of odcids) assert.deepEqual(files.filter((f) => f.odcid === o).map((f) => f.role), ['client', 'server']);
    for (const f of files) {
      checkFile(f);
      // The file ends with the connection: its close, then the final state.
      assert.deepEqual(f.events.at(-1), { time: f.events.at(-1)!.time, name: 'connectivity:connection_state_updated', data: { old: f.role === 'client' ? 'closing' : 'draining', new: 'closed' } });
    }
  });

  it('an unusable qlogDir is an argument error at bind', async () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', qlogDir: join(file, 'sub') }), /qlogDir/);
  });

  it('quic-peer listen --qlog DIR and connect --qlog DIR write the two sides of the connection', async () => {
    const ldir = tempDir();
    const cdir = tempDir();
    // The echo server runs until interrupted, then closes its endpoint (and its qlog files).
    const listener = spawn(process.execPath, [main, 'listen', '--bind', '127.0.0.1:0', '--echo', '--qlog', ldir], { stdio: ['ignore', 'pipe', 'pipe'] });
    listener.stdout!.resume();
    const listenerExit = new Promise<number | null>((resolve) => listener.on('exit', resolve));
    try {
      const target = await new Promise<string>((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new Error(`listen printed no address: ${err}`)), 10_000);
        listener.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening (\S+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const dialer = spawn(process.execPath, [main, 'connect', '--qlog', cdir, target], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      dialer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      dialer.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      dialer.stdin!.end('hello, echo\n');
      const code = await new Promise<number | null>((resolve) => dialer.on('exit', resolve));
      assert.equal(code, 0, err);
      assert.equal(out, 'hello, echo\n');
    } finally {
      listener.kill('SIGINT');
    }
    assert.equal(await listenerExit, 130, 'Ctrl-C: the sessions closed, then exit 130');
    const [c] = readQlogDir(cdir);
    const [s] = readQlogDir(ldir);
    assert.equal(readdirSync(cdir).length, 1);
    assert.equal(readdirSync(ldir).length, 1);
    assert.equal(c!.role, 'client');
    assert.equal(s!.role, 'server');
    assert.equal(c!.odcid, s!.odcid, 'both sides name the connection by the same ODCID');
    checkFile(c!);
    checkFile(s!);
  });

  it('the help of listen and connect documents --qlog', async () => {
    for (const cmd of ['listen', 'connect']) {
      const child = spawn(process.execPath, [main, cmd, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((resolve) => child.on('exit', resolve));
      assert.match(out, /--qlog DIR/, cmd);
    }
  });
});
