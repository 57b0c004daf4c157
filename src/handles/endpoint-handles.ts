/**
 * The FFI functions (`createHandleFfi`) over a real Endpoint: `sessionConnect` dials with
 * `Session.connect(endpoint, remote, { directAddrs })`, `sessionAccept` waits in
 * `Session.accept(endpoint)`, and the handle store lives as long as the endpoint: when the
 * endpoint closes (its sessions already closing with code 0, 'endpoint closing'), every handle is
 * removed and closed, so nothing a caller forgot keeps a body channel or a pump alive.
 *
 * `Session` satisfies `SessionLike` as it is: stream halves are WHATWG streams whose errors carry
 * the application code in `code` (StreamAbortedError), and `cancel(code)` / `abort(code)` send
 * STOP_SENDING / RESET_STREAM with it, which is the pumps' contract.
 */
import { Session, type ConnectOptions } from '../session/session.js';
import type { Endpoint } from '../session/endpoint.js';
import { createHandleFfi, type HandleFfi } from './ffi.js';
import { InvalidInputError, describeValue } from './errors.js';
import { HandleStore, type HandleStoreOptions } from './store.js';

/** Options of {@link createEndpointHandles}: the store's limits, plus connect defaults. */
export interface EndpointHandlesOptions extends HandleStoreOptions<Session> {
  /** Defaults for every `sessionConnect` (ALPN, dial timeout); `directAddrs` come from the call. */
  readonly connect?: Omit<ConnectOptions, 'directAddrs'>;
}

/** The FFI functions bound to one endpoint, with the store that names their objects. */
export interface EndpointHandles extends HandleFfi {
  /** The endpoint the sessions are dialled from and accepted on. */
  readonly endpoint: Endpoint;
  /** The store that issues the session, reader and writer handles. */
  readonly store: HandleStore<Session>;
  /** Removes and closes every handle, then closes the endpoint (as `endpoint.close()` would). */
  close(): Promise<void>;
}

/** The reason a session gets when the store closes it (idle sweep, store closed). */
export const HANDLE_RELEASED_REASON = 'handle released';

/**
 * Builds the FFI over `endpoint`. The store closes the sessions it sweeps (or holds at shutdown)
 * with code 0 and `HANDLE_RELEASED_REASON` unless `options.closeSession` says otherwise.
 */
export function createEndpointHandles(endpoint: Endpoint, options: EndpointHandlesOptions = {}): EndpointHandles {
  if (typeof endpoint !== 'object' || endpoint === null || typeof (endpoint as Partial<Endpoint>).onClose !== 'function') {
    throw new InvalidInputError(`createEndpointHandles: endpoint must be an Endpoint, got ${describeValue(endpoint)}`);
  }
  if (typeof options !== 'object' || options === null) throw new InvalidInputError(`createEndpointHandles: options must be an object, got ${describeValue(options)}`);
  const { connect: connectDefaults, closeSession, ...storeOptions } = options;
  let endpointClosing = false;
  const store = new HandleStore<Session>({
    ...storeOptions,
    // Once the endpoint closes, its sessions are already closing with the endpoint's code and
    // reason: do not report another one.
    closeSession: (s) => {
      if (endpointClosing) return;
      if (closeSession) closeSession(s);
      else s.close(0, HANDLE_RELEASED_REASON);
    },
  });
  const ffi = createHandleFfi<Session>({
    store,
    connect: (remote, { directAddrs }) => Session.connect(endpoint, remote, { ...connectDefaults, directAddrs }),
    accept: () => Session.accept(endpoint),
  });
  // The endpoint closes its sessions first (the peers see 'endpoint closing'); then the store
  // drops every handle: readers and writers end, session handles become stale.
  endpoint.onClose(() => {
    endpointClosing = true;
    store.closeAll();
  });
  return {
    ...ffi,
    endpoint,
    store,
    close: () => endpoint.close(),
  };
}
