/**
 * Inside a scenario: a transparent UDP relay on 127.0.0.1 that records what crosses it, so the
 * scenario can look at the wire (see wire.ts). The client sends to `relay.addr`; the relay
 * forwards from a second socket to `target`, and the answers back to the client.
 */
import dgram from 'node:dgram';
import type { Captured } from './wire.js';

export class UdpRelay {
  readonly captured: Captured[] = [];
  private client: { address: string; port: number } | undefined;
  private readonly t0 = performance.now();

  private constructor(
    private readonly front: dgram.Socket,
    private readonly back: dgram.Socket,
    private readonly target: { address: string; port: number },
    private readonly maxRecorded: number,
  ) {
    front.on('message', (msg, rinfo) => {
      this.client = { address: rinfo.address, port: rinfo.port };
      this.record('c2s', msg);
      back.send(msg, this.target.port, this.target.address);
    });
    back.on('message', (msg) => {
      this.record('s2c', msg);
      if (this.client) front.send(msg, this.client.port, this.client.address);
    });
  }

  /** Starts a relay in front of `target` (ip:port, IPv4). */
  static async start(target: string, maxRecorded = 5000): Promise<UdpRelay> {
    const i = target.lastIndexOf(':');
    const bind = async (): Promise<dgram.Socket> => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
      return s;
    };
    return new UdpRelay(await bind(), await bind(), { address: target.slice(0, i), port: Number(target.slice(i + 1)) }, maxRecorded);
  }

  /** Where the client must send (ip:port). */
  get addr(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  close(): void {
    this.front.close();
    this.back.close();
  }

  private record(dir: 'c2s' | 's2c', msg: Buffer): void {
    if (this.captured.length < this.maxRecorded) {
      this.captured.push({ dir, ms: Math.round(performance.now() - this.t0), bytes: new Uint8Array(msg) });
    }
  }
}
