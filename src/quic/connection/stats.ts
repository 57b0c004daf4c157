/**
 * What a connection counts, as `Connection.getStats()` reports it: plain data, so the types an
 * application sees carry nothing of the connection's machinery.
 */

/** Datagram counters (RFC 9221). */
export interface DatagramStats {
  /** Handed to a packet. */
  sent: number;
  /** In a packet the peer acknowledged. */
  acked: number;
  /** In a packet declared lost (never retransmitted). */
  lost: number;
  /** Dropped from the send queue to make room (drop-oldest) or because they no longer fit. */
  droppedSend: number;
  received: number;
  /** Dropped from the receive queue because the application did not read them in time. */
  droppedRecv: number;
}

/** Path validation and migration counters (what the QUIC interop runner's rebinding tests check). */
export interface PathStats {
  pathChallengesSent: number;
  pathChallengesReceived: number;
  pathResponsesSent: number;
  pathResponsesReceived: number;
  /** Path validations that succeeded (a PATH_RESPONSE echoed one of our challenges, RFC 9000 §8.2.3). */
  pathValidations: number;
  /** Path validations abandoned on their timer (RFC 9000 §8.2.4). */
  pathValidationFailures: number;
  /** Moves of the send address to a new peer address (RFC 9000 §9.3). */
  migrations: number;
  /** Moves back to the last validated address: validation failed, or the old path spoke again (RFC 9000 §9.3.2, §9.3.3). */
  migrationsReverted: number;
  /** Datagrams dropped for their source address (client: not the server's; disable_active_migration). */
  datagramsFromUnknownAddress: number;
}

/** Connection counters; the path ones (PATH_CHALLENGE/RESPONSE, validations, migrations) at the top level. */
export interface ConnectionStats extends Readonly<PathStats> {
  /** RTT figures of the current path, ms. */
  readonly rtt: { readonly smoothed: number; readonly min: number; readonly latest: number; readonly variance: number };
  /** Congestion window of the current path, bytes. */
  readonly cwnd: number;
  readonly bytesInFlight: number;
  readonly congestionEvents: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsReceived: number;
  readonly bytesReceived: number;
  readonly packetsLost: number;
  readonly bytesLost: number;
  /** Packets that carried retransmitted data (CRYPTO or STREAM sent before). */
  readonly packetsRetransmitted: number;
  /** Packets dropped on receipt (undecryptable, duplicate, malformed header, unknown address). */
  readonly packetsDropped: number;
  /** Current UDP payload size used on the path. */
  readonly mtu: number;
  readonly keyUpdates: number;
  readonly ptoCount: number;
  readonly datagrams: Readonly<DatagramStats>;
}
