import assert from 'node:assert/strict';
import { MIN_DATAGRAM_SIZE } from '../../../src/quic/packet/size.js';

describe('datagram size (RFC 9000 §14)', () => {
  it('MIN_DATAGRAM_SIZE is the 1200 bytes of UDP payload every path carries', () => {
    // The literal is the RFC's; everything else refers to the constant. The endpoint's use of it
    // (an Initial under 1200 bytes dropped, one of 1200 accepted) is tested in endpoint.test.ts.
    assert.equal(MIN_DATAGRAM_SIZE, 1200);
  });
});
