import { formatIpPort, parseIpPort } from '../../codec/ip.js';
import { protocolViolation } from '../errors.js';
import type { ObservedAddressFrame } from '../frames/frame.js';
import { FrameType } from '../frames/types.js';

/**
 * QUIC Address Discovery (draft-seemann-quic-address-discovery, as noq speaks it: transport
 * parameter 0x9f81a176, OBSERVED_ADDRESS frames 0x9f81a6/0x9f81a7): each side may tell the other
 * the address and port it sees the other's packets come from, path by path. What a peer (or an
 * iroh relay's address discovery server) reports is the address a NAT gave us: a candidate for
 * hole punching that no interface of ours shows (nat.ts; the session layer collects them).
 *
 * The roles (the parameter's value): 0 we report (send only), 1 we want reports (receive only),
 * 2 both. We report when we send and the peer receives; the peer may report when it sends and we
 * receive, and an OBSERVED_ADDRESS otherwise is a PROTOCOL_VIOLATION (noq's rule).
 *
 * Sending: a path (by path id) is owed a report whenever its remote address differs from what we
 * last reported on it (the first packet after the handshake, a migration, a new path id); a lost
 * report is owed again, with a new sequence number, while the address is still the path's.
 * Receiving: per path id, a report with a sequence number no higher than the last one's is
 * ignored; a new address is announced (`onReport` returns it).
 */
/** Most new addresses one connection's peer may announce (each one updates every connection's candidates). */
export const MAX_ANNOUNCED = 16;

export class AddressDiscovery {
  /** Our role, as our transport parameter said it. */
  readonly localRole: 0 | 1 | 2;
  private sends = false;
  private receives = false;
  private started = false;
  private nextSeq = 0;
  /**
   * Per open path id (`forgetPath`), flat, three slots each: the path id; the address last
   * reported on it (a report in flight or acknowledged), or one that cannot be reported (a relay
   * path), or undefined; the highest sequence number the peer reported on it, or -1. Made by the
   * first entry, sized exactly ([perf2]: two Maps cost ~370 B of an idle connection).
   */
  private paths: Array<number | string | undefined> | undefined;
  /** The address the peer last reported, on any path (text form), or null. */
  private last: string | null = null;
  /** New addresses announced (`onReport`), at most MAX_ANNOUNCED. */
  private announced = 0;
  private reportsSent = 0;
  private reportsReceived = 0;

  /** Counters (Connection stats). */
  get stats(): { readonly reportsSent: number; readonly reportsReceived: number } {
    return { reportsSent: this.reportsSent, reportsReceived: this.reportsReceived };
  }

  constructor(localRole: 0 | 1 | 2) {
    this.localRole = localRole;
  }

  /** The handshake completed: the peer's role (null: it did not send the parameter). */
  start(peerRole: 0 | 1 | 2 | null): void {
    this.started = true;
    if (peerRole === null) return;
    this.sends = this.localRole !== 1 && peerRole !== 0;
    this.receives = this.localRole !== 0 && peerRole !== 1;
  }

  /** Whether both sides offered it and at least one of them reports. */
  get negotiated(): boolean {
    return this.sends || this.receives;
  }

  /** The address the peer last reported to us (`ip:port`), or null. */
  get observed(): string | null {
    return this.last;
  }

  /**
   * The report owed on path id `pathId`, whose peer is at `address` (not an IP address and port,
   * such as a relay path: none), or undefined. Write it, then call `onSent`.
   */
  pending(pathId: number, address: string): ObservedAddressFrame | undefined {
    if (!this.sends || this.reportedOn(pathId) === address) return undefined;
    const ipPort = parseIpPort(address);
    if (ipPort === undefined) {
      // A relay path: nothing to report, and nothing to parse again on its next packet.
      const i = this.slot(pathId); // before `this.paths` is read: it may make the array
      this.paths![i + 1] = address;
      return undefined;
    }
    return { kind: 'observedAddress', sequence: this.nextSeq, ip: ipPort.ip, port: ipPort.port };
  }

  /** The report `pending` gave for `pathId` and `address` was written. */
  onSent(pathId: number, address: string): void {
    const i = this.slot(pathId); // before `this.paths` is read: it may make the array
    this.paths![i + 1] = address;
    this.nextSeq++;
    this.reportsSent++;
  }

  /** A report was lost: owed again (with a new number) if the path's address is still the one reported. */
  onLost(pathId: number, address: string): void {
    const i = this.indexOf(pathId);
    if (i >= 0 && this.paths![i + 1] === address) this.paths![i + 1] = undefined;
  }

  /** The path id is gone: nothing more is reported or remembered for it. */
  forgetPath(pathId: number): void {
    const i = this.indexOf(pathId);
    if (i >= 0) this.paths!.splice(i, 3);
  }

  /**
   * An OBSERVED_ADDRESS arrived on path id `pathId`: the reported address (`ip:port`) when it is
   * new for that path, else null.
   * @throws TransportError PROTOCOL_VIOLATION when the peer may not report (not negotiated so).
   */
  onReport(pathId: number, f: ObservedAddressFrame): string | null {
    // A 1-RTT packet may overtake the handshake's end (a server's, before the client's Finished):
    // the negotiation is not known yet, and a report then is dropped, not a violation.
    if (!this.started) return null;
    if (!this.receives) {
      const type = f.ip.length === 16 ? FrameType.OBSERVED_ADDRESS_IPV6 : FrameType.OBSERVED_ADDRESS_IPV4;
      throw protocolViolation('OBSERVED_ADDRESS frame when address discovery was not negotiated for the peer to report', type);
    }
    const i = this.slot(pathId);
    if (f.sequence <= (this.paths![i + 2] as number)) return null;
    this.paths![i + 2] = f.sequence;
    this.reportsReceived++;
    const address = formatIpPort(f.ip, f.port);
    if (address === this.last) return null;
    this.last = address;
    // Each new address is work for the endpoint (every connection's candidates): a peer that
    // keeps reporting new ones is heard no more after MAX_ANNOUNCED.
    if (this.announced >= MAX_ANNOUNCED) return null;
    this.announced++;
    return address;
  }

  /** The address last reported on `pathId`, or undefined. */
  private reportedOn(pathId: number): string | undefined {
    const i = this.indexOf(pathId);
    return i < 0 ? undefined : (this.paths![i + 1] as string | undefined);
  }

  /** The index of `pathId`'s slots in `paths`, or -1. */
  private indexOf(pathId: number): number {
    const a = this.paths;
    if (a !== undefined) for (let i = 0; i < a.length; i += 3) if (a[i] === pathId) return i;
    return -1;
  }

  /** The index of `pathId`'s slots, made when it has none (nothing reported, nothing heard). */
  private slot(pathId: number): number {
    const i = this.indexOf(pathId);
    if (i >= 0) return i;
    if (this.paths === undefined) {
      this.paths = [pathId, undefined, -1];
      return 0;
    }
    this.paths.push(pathId, undefined, -1);
    return this.paths.length - 3;
  }
}
