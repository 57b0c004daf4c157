/**
 * Packet number spaces (RFC 9000 §12.3): Initial, Handshake and Application data. 0-RTT and 1-RTT
 * packets share `Application` (RFC 9002 Appendix A.2 kPacketNumberSpace).
 */
export const PacketSpace = {
  Initial: 0,
  Handshake: 1,
  Application: 2,
} as const;
export type PacketSpace = (typeof PacketSpace)[keyof typeof PacketSpace];

/** The three spaces in RFC order (Initial, Handshake, Application). */
export const PACKET_SPACES: readonly PacketSpace[] = [PacketSpace.Initial, PacketSpace.Handshake, PacketSpace.Application];
