import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { negotiateMultipath } from '../../../src/quic/connection/multipath.js';
import { defaultTransportParameters, type TransportParameters } from '../../../src/quic/transport-params.js';

const params = (initialMaxPathId: number | null, n0NatTraversal: number | null = null): TransportParameters => ({
  ...defaultTransportParameters(),
  initialMaxPathId,
  n0NatTraversal,
});

describe('multipath negotiation (draft-ietf-quic-multipath §2, n0 NAT traversal)', () => {
  it('needs initial_max_path_id from both sides; each side opens up to what its peer allows', () => {
    assert.equal(negotiateMultipath(params(null), params(7), 8, 8), null);
    assert.equal(negotiateMultipath(params(7), params(null), 8, 8), null);
    assert.deepEqual(negotiateMultipath(params(3), params(7), 8, 8), { localMaxPathId: 3, remoteMaxPathId: 7, natTraversal: null });
    assert.deepEqual(negotiateMultipath(params(0), params(0xffffffff), 8, 20), { localMaxPathId: 0, remoteMaxPathId: 0xffffffff, natTraversal: null });
  });

  it('n0 NAT traversal needs its parameter from both sides, and multipath', () => {
    // As between two iroh nodes: 7 paths, 32 addresses each way.
    assert.deepEqual(negotiateMultipath(params(7, 32), params(7, 12), 8, 8)?.natTraversal, { maxRemoteAddresses: 32, maxLocalAddresses: 12 });
    assert.equal(negotiateMultipath(params(7, 32), params(7, null), 8, 8)?.natTraversal, null);
    assert.equal(negotiateMultipath(params(7, null), params(7, 32), 8, 8)?.natTraversal, null);
    assert.equal(negotiateMultipath(params(null, 32), params(7, 32), 8, 8), null);
  });

  it('zero-length connection ids with multipath offered by both: PROTOCOL_VIOLATION (noq does the same)', () => {
    const pv = (e: unknown): boolean => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION;
    assert.throws(() => negotiateMultipath(params(7), params(7), 0, 8), pv);
    assert.throws(() => negotiateMultipath(params(7), params(7), 8, 0), pv);
    // Not offered by us: the peer's parameter is an extension we ignore (RFC 9000 §7.4.2).
    assert.equal(negotiateMultipath(params(null), params(7), 0, 0), null);
  });
});
