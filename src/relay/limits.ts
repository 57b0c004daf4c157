/**
 * The bounds of a relay server (test/LIMITS.md lists each with its test). Every bound protects the
 * other clients: what exceeds it is dropped or disconnected, the server keeps serving.
 */
export interface RelayLimits {
  /** Connections (authenticated or handshaking) at once; more get HTTP 503. Default 10,000. */
  maxClients: number;
  /** Frames queued toward one client (not yet written to its socket); datagrams beyond are dropped (iroh `PER_CLIENT_SEND_QUEUE_DEPTH`, 512). */
  sendQueueFrames: number;
  /** From the TCP accept to the end of the relay handshake; a slower client is disconnected. Default 10 s. */
  handshakeTimeoutMs: number;
  /**
   * Bytes per second a client may send (a token bucket over received WebSocket messages); a client
   * above it is not read from until its budget refills (TCP pushes back on it alone), and is told
   * once with Status RateLimited. 0 = unlimited (iroh's default). Default 64 MiB/s.
   */
  clientRxBytesPerSecond: number;
  /** Burst of the rate limit, bytes. Default 4 MiB. */
  clientRxBurstBytes: number;
  /** Idle time after which the server pings a client (iroh: 15 s + 1-5 s jitter). */
  pingIntervalMs: number;
  /** A client that does not answer a Ping within this is disconnected (iroh: 5 s). */
  pongTimeoutMs: number;
  /** At most one EndpointGone per unknown destination per client within this. Default 1 s. */
  endpointGoneIntervalMs: number;
}

/** The defaults of `RelayLimits`. */
export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxClients: 10_000,
  sendQueueFrames: 512,
  handshakeTimeoutMs: 10_000,
  clientRxBytesPerSecond: 64 * 1024 * 1024,
  clientRxBurstBytes: 4 * 1024 * 1024,
  pingIntervalMs: 15_000,
  pongTimeoutMs: 5_000,
  endpointGoneIntervalMs: 1_000,
});

/** Parses and checks the limits: every value a finite non-negative number. */
export function checkLimits(l: RelayLimits): RelayLimits {
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`RelayServer: limits.${k} must be a non-negative number, got ${String(v)}`);
  }
  if (l.maxClients < 1 || l.sendQueueFrames < 1) throw new TypeError('RelayServer: limits.maxClients and limits.sendQueueFrames must be at least 1');
  return l;
}

