import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../codec/bytes.js';
import type { QlogConnectionInfo } from '../quic/endpoint/config.js';
import type { QlogEvent, QlogSink } from '../quic/connection/qlog.js';

/**
 * qlog files: one JSON-SEQ file per connection in a directory, what qvis and the qlog
 * tools read.
 *
 * JSON-SEQ (RFC 7464): every record is 0x1E, a JSON text, then a line feed. The first record is
 * the qlog_file header (qlog 0.3: qlog_format "JSON-SEQ", one trace with the vantage point and
 * the common fields: ODCID, relative times, the wall-clock reference time); each later record is
 * one event `{ time, name, data }` with `time` in ms since the connection started.
 *
 * The file is named `<odcid hex>-<client|server>.sqlog`, so both sides of one connection traced
 * into the same directory sit side by side. Writes are batched per event-loop turn into a write
 * stream, which is ended when the connection terminates (the core closes its sink) or when the
 * endpoint closes. A write error stops the file; it never reaches the connection.
 */

/** A directory receiving a qlog file per connection; `factory` is what `EndpointConfig.qlog` takes. */
export class QlogDir {
  readonly dir: string;
  /** Paths of the files created so far. */
  readonly files: string[] = [];
  private readonly open = new Set<QlogFileWriter>();
  private readonly finishing = new Set<Promise<void>>();

  /** Creates `dir` (and its parents) when missing; throws when that fails. */
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.dir = dir;
  }

  /** A new file for a new connection. */
  readonly factory = (info: QlogConnectionInfo): QlogSink => {
    const path = join(this.dir, `${toHex(info.odcid)}-${info.role}.sqlog`);
    const w = new QlogFileWriter(path, info);
    this.files.push(path);
    this.open.add(w);
    const done = w.finished.then(() => {
      this.open.delete(w);
      this.finishing.delete(done);
    });
    this.finishing.add(done);
    return w;
  };

  /** Ends every file still open and resolves once all are on disk. */
  async close(): Promise<void> {
    for (const w of this.open) w.close();
    await Promise.all([...this.finishing]);
  }
}

/** One connection's qlog file (a `QlogSink`). */
export class QlogFileWriter implements QlogSink {
  readonly path: string;
  /** Resolves once the file is complete (or failed) after `close()`. */
  readonly finished: Promise<void>;
  private readonly stream: WriteStream;
  private readonly t0: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private closed = false;
  private failed = false;

  constructor(path: string, info: Pick<QlogConnectionInfo, 'role' | 'odcid' | 'now'>) {
    this.path = path;
    this.t0 = info.now;
    this.stream = createWriteStream(path, { flags: 'w' });
    this.finished = new Promise<void>((resolve) => {
      this.stream.once('close', resolve);
      this.stream.on('error', () => {
        this.failed = true;
        resolve();
      });
    });
    const odcid = toHex(info.odcid);
    this.push({
      qlog_version: '0.3',
      qlog_format: 'JSON-SEQ',
      title: `quic-peer ${info.role} ${odcid}`,
      trace: {
        title: `quic-peer ${info.role} ${odcid}`,
        vantage_point: { name: 'quic-peer', type: info.role },
        common_fields: { ODCID: odcid, time_format: 'relative', reference_time: Date.now(), protocol_type: ['QUIC'] },
      },
    });
  }

  event(e: QlogEvent): void {
    if (this.closed) return;
    // Relative ms with microsecond precision: enough for a trace, shorter records.
    this.push({ time: Math.round((e.time - this.t0) * 1000) / 1000, name: e.name, data: e.data });
  }

  /** Flushes and ends the file (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.stream.end();
  }

  private push(record: object): void {
    if (this.failed) return;
    // RFC 7464 §2.2: RS, the JSON text, LF.
    const line = `\x1e${JSON.stringify(record)}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (!this.closed) this.flush();
  };

  private flush(): void {
    if (this.pending.length === 0 || this.failed) return;
    this.stream.write(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/** Splits a JSON-SEQ text into its parsed records (RFC 7464; for tests and tools). */
export function parseJsonSeq(text: string): unknown[] {
  const out: unknown[] = [];
  for (const part of text.split('\x1e')) {
    const t = part.trim();
    if (t.length > 0) out.push(JSON.parse(t));
  }
  return out;
}
