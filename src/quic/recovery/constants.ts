/**
 * The loss-recovery constants of RFC 9002 §6 and Appendix A.2 (the packet number spaces are in
 * src/quic/packet/space.ts).
 * All times are milliseconds (numbers, possibly fractional).
 */

/** RFC 9002 §6.1.1: reordering threshold in packets. */
export const K_PACKET_THRESHOLD = 3;
/** RFC 9002 §6.1.2: reordering threshold as an RTT multiplier (9/8). */
export const K_TIME_THRESHOLD = 9 / 8;
/** RFC 9002 §6.1.2: timer granularity, 1 ms. */
export const K_GRANULARITY = 1;
/** RFC 9002 §6.2.2: RTT assumed before the first sample, 333 ms. */
export const K_INITIAL_RTT = 333;
/** RFC 9002 §7.6.1: persistent congestion duration in PTOs. */
export const K_PERSISTENT_CONGESTION_THRESHOLD = 3;
/** RFC 9000 §18.2: default max_ack_delay (25 ms) when the transport parameter is absent. */
export const DEFAULT_MAX_ACK_DELAY = 25;
/** RFC 9000 §18.2: default ack_delay_exponent (3). */
export const DEFAULT_ACK_DELAY_EXPONENT = 3;
