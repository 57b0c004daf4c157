/** Why a datagram could not be queued (RFC 9221): the peer accepts none, or it is too large now. */
export class DatagramError extends Error {
  /** Always `'DatagramError'`. */
  override readonly name = 'DatagramError';
  /** `unsupported`: the peer accepts no datagrams; `too-large`: over the size that fits a packet now. */
  readonly kind: 'unsupported' | 'too-large';
  constructor(kind: 'unsupported' | 'too-large', message: string) {
    super(message);
    this.kind = kind;
  }
}
