/** Why a datagram could not be queued (RFC 9221): the peer accepts none, or it is too large now. */
export class DatagramError extends Error {
  override readonly name = 'DatagramError';
  readonly kind: 'unsupported' | 'too-large';
  constructor(kind: 'unsupported' | 'too-large', message: string) {
    super(message);
    this.kind = kind;
  }
}
