/**
 * RFC 9000 §14: "QUIC MUST NOT be used if the network path cannot support a maximum datagram size
 * of at least 1200 bytes". Every path carries UDP payloads of this size; datagrams with Initial
 * packets are padded to it (§14.1), a server discards smaller Initial datagrams (§14.1), and path
 * validation datagrams are expanded to it (§8.2.1).
 */
export const MIN_DATAGRAM_SIZE = 1200;
