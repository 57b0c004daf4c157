import type { Target } from './engine.js';
import { DecodersTarget } from './target-decoders.js';
import { ConnectionTarget } from './target-connection.js';
import { EndpointTarget } from './target-endpoint.js';
import { ClientHelloTarget } from './target-clienthello.js';
import { ServerFlightTarget } from './target-serverflight.js';
import { MultipathTarget } from './target-multipath.js';

/** Every fuzz target, by name (see test/fuzz/README.md). */
export const TARGET_NAMES = ['decoders', 'clienthello', 'serverflight', 'handshake', 'established', 'client', 'endpoint', 'bounds', 'multipath'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export function makeTarget(name: string): Target {
  switch (name) {
    case 'decoders':
      return new DecodersTarget();
    case 'handshake':
    case 'established':
    case 'bounds':
    case 'client':
      return new ConnectionTarget(name);
    case 'endpoint':
      return new EndpointTarget();
    case 'clienthello':
      return new ClientHelloTarget();
    case 'serverflight':
      return new ServerFlightTarget();
    case 'multipath':
      return new MultipathTarget();
    default:
      throw new TypeError(`unknown fuzz target '${name}' (one of ${TARGET_NAMES.join(', ')})`);
  }
}
