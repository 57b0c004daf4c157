import type { AddressDiscovery } from './address-discovery.js';
import type { PacketBuilder } from './packet-builder.js';
import type { PacketRecord } from './sent-packet.js';

/**
 * Writes the OBSERVED_ADDRESS owed on path id `pathId`, whose peer is at `address`, into the open
 * 1-RTT packet (QUIC Address Discovery, address-discovery.ts), and records it in the packet's
 * record (lost: owed again). Returns whether one was written (it is ack-eliciting).
 */
export function writeObservedAddress(b: PacketBuilder, qad: AddressDiscovery, pathId: number, address: string, record: PacketRecord): boolean {
  const f = qad.pending(pathId, address);
  if (f === undefined || !b.writeObservedAddress(f)) return false;
  qad.onSent(pathId, address);
  record.add({ k: 'qad', pathId, address });
  return true;
}
