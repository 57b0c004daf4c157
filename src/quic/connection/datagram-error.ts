/**
 * Why a datagram was refused or dropped (RFC 9221): the peer accepts none (`unsupported`), it is
 * larger than the current maximum (`too-large`: at once, or after it was queued when the path MTU
 * shrank), or the send queue was full and newer datagrams pushed it out (`queue-full`).
 */
export class DatagramError extends Error {
  /** Always `'DatagramError'`. */
  override readonly name = 'DatagramError';
  /**
   * `unsupported`: the peer accepts no datagrams; `too-large`: over the size that fits a packet
   * now (or, for a datagram already queued, after the path MTU shrank); `queue-full`: dropped from
   * the full send queue before it could leave.
   */
  readonly kind: 'unsupported' | 'too-large' | 'queue-full';
  constructor(kind: 'unsupported' | 'too-large' | 'queue-full', message: string) {
    super(message);
    this.kind = kind;
  }
}
