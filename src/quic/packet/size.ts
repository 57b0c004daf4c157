/**
 * The smallest allowed maximum datagram size, in bytes of UDP payload (RFC 9000 §14): every QUIC
 * path must carry 1200-byte UDP payloads ("QUIC MUST NOT be used if the network path cannot
 * support a maximum datagram size of at least 1200 bytes"), so it is what a path starts at before
 * any MTU discovery. RFC 9000 §14.1: a client pads every datagram carrying an Initial packet to
 * at least this size, a server every datagram carrying an ack-eliciting Initial; and a server
 * MUST discard an Initial packet carried in a datagram smaller than this. Path validation
 * datagrams are expanded to it too (§8.2.1).
 */
export const MIN_DATAGRAM_SIZE = 1200;
