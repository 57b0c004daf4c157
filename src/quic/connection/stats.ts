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
  /** Received from the peer. */
  received: number;
  /** Dropped from the receive queue because the application did not read them in time. */
  droppedRecv: number;
}

/** Path validation and migration counters (what the QUIC interop runner's rebinding tests check). */
export interface PathStats {
  /** PATH_CHALLENGE frames sent (RFC 9000 §8.2: probing a new or changed peer address). */
  pathChallengesSent: number;
  /** PATH_CHALLENGE frames received from the peer. */
  pathChallengesReceived: number;
  /** PATH_RESPONSE frames sent, each echoing a challenge received. */
  pathResponsesSent: number;
  /** PATH_RESPONSE frames received. */
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

/** One path's RTT figures, ms. */
export interface RttStats {
  /** The smoothed RTT (RFC 9002 §5.3). */
  readonly smoothed: number;
  /** The lowest RTT seen (RFC 9002 §5.2); 0 before the first sample. */
  readonly min: number;
  /** The latest RTT sample. */
  readonly latest: number;
  /** The RTT variation (rttvar, RFC 9002 §5.3). */
  readonly variance: number;
}

/** Connection counters; the path ones (PATH_CHALLENGE/RESPONSE, validations, migrations) at the top level. */
export interface ConnectionStats extends Readonly<PathStats> {
  /** RTT figures of the current path, ms. */
  readonly rtt: RttStats;
  /** Congestion window of the current path, bytes. */
  readonly cwnd: number;
  /** Bytes sent and neither acknowledged nor declared lost, on the current path. */
  readonly bytesInFlight: number;
  /** Recovery periods entered: each reduced the congestion window once (RFC 9002 §7.3.2). */
  readonly congestionEvents: number;
  /** Packets sent (a coalesced datagram counts each packet). */
  readonly packetsSent: number;
  /** UDP payload bytes sent. */
  readonly bytesSent: number;
  /** Packets received and opened (duplicates not counted). */
  readonly packetsReceived: number;
  /** UDP payload bytes received, dropped datagrams included. */
  readonly bytesReceived: number;
  /** Packets declared lost (RFC 9002 §6.1). */
  readonly packetsLost: number;
  /** Bytes of the packets declared lost. */
  readonly bytesLost: number;
  /** Packets that carried retransmitted data (CRYPTO or STREAM sent before). */
  readonly packetsRetransmitted: number;
  /** Packets dropped on receipt (undecryptable, duplicate, malformed header, unknown address). */
  readonly packetsDropped: number;
  /** Current UDP payload size used on the path. */
  readonly mtu: number;
  /** Key updates so far (RFC 9001 §6), whichever side started each. */
  readonly keyUpdates: number;
  /** Probe timeouts in a row without an acknowledgment (pto_count, RFC 9002 §6.2.1). */
  readonly ptoCount: number;
  /** Datagram counters (RFC 9221). */
  readonly datagrams: Readonly<DatagramStats>;
  /** iroh's n0 NAT traversal, when negotiated (else null). */
  readonly natTraversal: Readonly<NatTraversalStats> | null;
  /** QUIC Address Discovery, when negotiated (else null). */
  readonly addressDiscovery: Readonly<AddressDiscoveryStats> | null;
  /**
   * Each open path's figures: path 0 (the connection's first path), then with multipath every
   * path id ≥ 1 in the order it opened, abandoned ones while their state lingers. The connection's
   * own counters above are the sums over every path it ever had.
   */
  readonly paths: readonly PerPathStats[];
}

/** QUIC Address Discovery on one connection. */
export interface AddressDiscoveryStats {
  /** OBSERVED_ADDRESS frames we sent (a report of the address we see the peer at, per path). */
  readonly reportsSent: number;
  /** OBSERVED_ADDRESS frames taken from the peer (newer than the last of their path). */
  readonly reportsReceived: number;
  /** The address the peer last said it sees us at (`ip:port`), or null. */
  readonly observed: string | null;
}


/** One path's figures in `ConnectionStats.paths`. */
export interface PerPathStats {
  /** Its path id (draft-ietf-quic-multipath; 0 is the path the handshake ran on). */
  readonly pathId: number;
  /** Where its packets go: `ip:port`, or a relay path. */
  readonly remoteAddress: string;
  /** New application data goes on it now (the scheduler's choice). */
  readonly selected: boolean;
  /** Abandoned (by either side); its state lingers to acknowledge late packets. */
  readonly abandoned: boolean;
  /** Its RTT figures, ms. */
  readonly rtt: RttStats;
  /** Its congestion window, bytes. */
  readonly cwnd: number;
  /** Bytes in flight on it. */
  readonly bytesInFlight: number;
  /** Its path MTU (UDP payload bytes). */
  readonly mtu: number;
  /** Packets sent on it. */
  readonly packetsSent: number;
  /** UDP payload bytes sent on it. */
  readonly bytesSent: number;
  /** Packets received on it. */
  readonly packetsReceived: number;
  /** UDP payload bytes received on it. */
  readonly bytesReceived: number;
  /** Packets sent on it and declared lost. */
  readonly packetsLost: number;
  /** PTOs in a row without an acknowledgment on it. */
  readonly ptoCount: number;
}

/** Counters of iroh's n0 NAT traversal on one connection. */
export interface NatTraversalStats {
  /** Rounds started (a client's REACH_OUTs). */
  rounds: number;
  /** Probes (unpadded PATH_CHALLENGEs to a candidate address) sent. */
  probesSent: number;
  /** Probes answered by a PATH_RESPONSE from the address probed. */
  probesAnswered: number;
  /** Paths opened on answered probes (client). */
  pathsOpened: number;
  /** ADD_ADDRESS, REMOVE_ADDRESS and REACH_OUT frames sent (retransmissions included). */
  framesSent: number;
}
