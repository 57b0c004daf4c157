import type { ConnectionEvent } from '../events.js';

/**
 * The connection's events in the order they happened (events notify, data is pulled). Every module that has something to tell the application pushes here, stream events
 * included, so a stream's 'sendDone' (its FIN acknowledged) comes before the 'closed' of a
 * CONNECTION_CLOSE that arrived in the same packet.
 */
export class EventQueue {
  private readonly queue: ConnectionEvent[] = [];
  private head = 0;

  push(e: ConnectionEvent): void {
    this.queue.push(e);
  }

  /** The oldest event, or undefined. */
  shift(): ConnectionEvent | undefined {
    const q = this.queue;
    if (this.head >= q.length) return undefined;
    const e = q[this.head++];
    // Compact when drained (the usual case) or when the consumed head dominates.
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
    return e;
  }

  get length(): number {
    return this.queue.length - this.head;
  }
}
