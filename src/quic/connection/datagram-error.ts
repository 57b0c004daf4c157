/**
 * Why a datagram was refused or dropped (RFC 9221): the peer accepts none (`unsupported`), it is
 * larger than the current maximum (`too-large`: at once, or after it was queued when the path MTU
 * shrank), the send queue was full and newer datagrams pushed it out (`queue-full`), or it went
 * in a 0-RTT packet the server refused (`early-data-rejected`).
 */
export class DatagramError extends Error {
  /** Always `'DatagramError'`. */
  override readonly name = 'DatagramError';
  /**
   * `unsupported`: the peer accepts no datagrams; `too-large`: over the size that fits a packet
   * now (or, for a datagram already queued, after the path MTU shrank); `queue-full`: dropped from
   * the full send queue before it could leave; `early-data-rejected`: it left in a 0-RTT packet
   * and the server refused the early data (RFC 9001 §4.6.2), so it never arrived.
   */
  readonly kind: 'unsupported' | 'too-large' | 'queue-full' | 'early-data-rejected';
  constructor(kind: 'unsupported' | 'too-large' | 'queue-full' | 'early-data-rejected', message: string) {
    super(message);
    this.kind = kind;
  }
}
