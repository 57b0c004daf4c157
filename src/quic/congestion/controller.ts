import { Cubic } from './cubic.js';
import type { CongestionAlgorithm, CongestionController } from './interface.js';
import { NewReno } from './new-reno.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';

/**
 * `createController`, and what the connection needs with it: the controller interface and the
 * window constants, re-exported so a caller imports one module. The interface lives in a module
 * of its own because NewReno and CUBIC implement it and this factory imports them.
 */
export type { CongestionAlgorithm, CongestionController, CongestionStats, RttInfo, SentPacketInfo } from './interface.js';
export { initialWindowFor, minimumWindowFor, K_LOSS_REDUCTION_FACTOR } from './base.js';

/** The default controller is CUBIC (as iroh's quinn). */
export function createController(algorithm: CongestionAlgorithm = 'cubic', maxDatagramSize = MIN_DATAGRAM_SIZE): CongestionController {
  return algorithm === 'newreno' ? new NewReno(maxDatagramSize) : new Cubic(maxDatagramSize);
}
