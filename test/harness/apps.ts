import { StreamResetError } from '../../src/quic/streams/stream-error.js';
import type { Connection } from '../../src/quic/connection/connection.js';
import { concatBytes } from '../../src/codec/bytes.js';
import type { Pair } from './pair.js';

/**
 * Small applications over a Pair: a sender that writes a buffer to a new stream as flow control
 * allows, and a receiver that reads accepted streams to their end. Both are driven between steps.
 */
export class StreamSender {
  readonly id: number;
  private offset = 0;
  private finished = false;
  /** Opens a stream of `direction`, or sends on the already open stream `direction.id`. */
  constructor(private readonly conn: Connection, readonly data: Uint8Array, direction: 'bidi' | 'uni' | { id: number } = 'bidi') {
    const id = typeof direction === 'object' ? direction.id : conn.openStream(direction);
    if (id === null) throw new Error('stream limit reached');
    this.id = id;
  }

  /** Writes what fits; finishes when everything was accepted. */
  pump(): void {
    while (this.offset < this.data.length) {
      const n = this.conn.writeStream(this.id, this.data.subarray(this.offset, Math.min(this.data.length, this.offset + 65536)));
      if (n === 0) break;
      this.offset += n;
    }
    if (this.offset === this.data.length && !this.finished) {
      this.conn.finishStream(this.id);
      this.finished = true;
    }
  }

  get done(): boolean {
    return this.finished;
  }
}

/**
 * Reads the first unidirectional stream the client opens on the server, 64 KiB at a time,
 * counting and dropping the bytes (as a real receiver and the bench server do): for measuring
 * the protocol, not the harness's copies.
 */
export class DiscardingReceiver {
  bytes = 0;
  ended = false;
  private id: number | null = null;
  constructor(private readonly p: Pair) {}
  pump(): void {
    const c = this.p.server;
    if (!c || this.ended) return;
    if (this.id === null) this.id = c.acceptStream('uni');
    if (this.id === null) return;
    const recv = c.recvStream(this.id);
    if (recv.isGone) {
      this.ended = true;
      return;
    }
    for (let d = recv.read(65536); d !== null; d = recv.read(65536)) this.bytes += d.length;
    if (recv.ended) this.ended = true;
  }
}

/**
 * Reads every stream the peer opens, keeping each one's bytes and whether it ended. Its own
 * sending half of a bidirectional stream is finished at once (a bidirectional stream only stops
 * counting against the peer's stream limit once both halves are done, RFC 9000 §4.6).
 */
export class StreamReceiver {
  readonly streams = new Map<number, { chunks: Uint8Array[]; ended: boolean; bytes: number }>();
  constructor(private readonly conn: () => Connection | undefined) {}

  pump(): void {
    const c = this.conn();
    if (!c) return;
    for (const dir of ['bidi', 'uni'] as const) {
      for (let id = c.acceptStream(dir); id !== null; id = c.acceptStream(dir)) {
        this.streams.set(id, { chunks: [], ended: false, bytes: 0 });
        if (dir === 'bidi') c.finishStream(id);
      }
    }
    for (const [id, s] of this.streams) {
      if (s.ended) continue;
      const recv = c.recvStream(id);
      if (recv.isGone) {
        // Removed from the map: everything was read.
        s.ended = true;
        continue;
      }
      try {
        for (let d = recv.read(); d !== null; d = recv.read()) {
          s.chunks.push(d);
          s.bytes += d.length;
        }
      } catch (e) {
        // The peer reset the stream: what arrived before is all there is.
        if (!(e instanceof StreamResetError)) throw e;
        s.ended = true;
        continue;
      }
      if (recv.ended) s.ended = true;
    }
  }

  data(id: number): Uint8Array {
    return concatBytes(...(this.streams.get(id)?.chunks ?? []));
  }
}

/** Drives `p` while pumping the given apps, until `until()` holds. */
export function run(p: Pair, apps: Array<{ pump(): void }>, until: () => boolean, maxMs = 120_000): void {
  p.drive(() => {
    for (const a of apps) a.pump();
    return until();
  }, maxMs);
}
