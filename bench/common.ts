/** Constants shared by the benchmark's parent (run.ts) and children (child.ts). */
export const BENCH_ALPN = 'bench/1';
/** Short header used by the pipeline: first byte, 8-byte DCID, 4-byte packet number. */
export const PIPE_DCID_LEN = 8;
export const PIPE_PN_LEN = 4;
/** The transport of both ends of `bulk_jumbo_mbps`: UDP payloads up to RFC 9000's 65527. */
export const JUMBO_TRANSPORT = { maxUdpPayloadSize: 65527 } as const;

/** The keys of PERF.md's benchmark contract, in the order of its table. */
export const CONTRACT_KEYS = [
  'bulk_mbps',
  'bulk_streams16_mbps',
  'pipeline_ceiling_mbps',
  'iroh_bulk_mbps',
  'tls_tcp_mbps',
  'handshake_ms_p50',
  'handshake_ms_p99',
  'iroh_handshake_ms_p50',
  'handshakes_per_s',
  'rtt_us_p50',
  'datagrams_per_s',
  'datagram_loss',
  'heap_bytes_per_idle_conn',
  'bulk_inmem_nullkeys_mbps',
  'wt_browser_bulk_mbps',
  'wt_node_bulk_mbps',
  // [relay]: the same bulk upload through `quic-peer relay` (iroh's relay protocol), quic-peer and iroh.
  'relay_bulk_mbps',
  'iroh_relay_bulk_mbps',
  // [resumption]: the handshake with a session ticket, and the first response byte of a 0-RTT request.
  'handshake_resumed_ms_p50',
  'handshakes_resumed_per_s',
  'zerortt_first_byte_ms',
  // [perf2]: past the per-packet ceiling, one end's idle heap, node:tls's handshake rate, and the
  // native stacks (C, Go, Rust) each with its own client and server and against quic-peer both ways.
  'bulk_jumbo_mbps',
  'heap_bytes_per_idle_conn_server_end',
  'tls_handshakes_per_s',
  'ngtcp2_bulk_mbps',
  'qp_from_ngtcp2_bulk_mbps',
  'ngtcp2_from_qp_bulk_mbps',
  'quicgo_bulk_mbps',
  'qp_from_quicgo_bulk_mbps',
  'quicgo_from_qp_bulk_mbps',
  'quinn_bulk_mbps',
  'qp_from_quinn_bulk_mbps',
  'quinn_from_qp_bulk_mbps',
] as const;
export type ContractKey = (typeof CONTRACT_KEYS)[number];
