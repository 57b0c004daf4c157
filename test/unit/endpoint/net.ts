import { EndpointCore, type EndpointConfig, type EndpointEvent } from '../../../src/quic/endpoint/endpoint-core.js';
import type { ConnectionTlsOptions } from '../../../src/quic/connection/connection.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { HeaderProtectionBatch, HeaderProtectionPrimer } from '../../../src/quic/crypto/header-protection.js';
import { publicKeyOf } from '../../../src/tls/identity.js';
import { Link, type LinkConfig } from '../../harness/link.js';

/**
 * Endpoint cores joined by seeded simulated links on a virtual clock: one Link per (from, to)
 * address pair, created on first use. Datagrams to an address with no endpoint vanish (spoofed
 * sources of a flood). `step()` advances to the next arrival or timer.
 */
export interface SentDatagram {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly bytes: Uint8Array;
}

export class Net {
  now = 0;
  readonly endpoints = new Map<string, EndpointCore>();
  /** Every endpoint's events, by address, in order. */
  readonly events = new Map<string, EndpointEvent[]>();
  /** Every datagram any endpoint sent, in order. */
  readonly sent: SentDatagram[] = [];
  /** Inspect or rewrite what is sent: return null to drop, or the datagrams to put on the link. */
  tap: ((d: SentDatagram) => Uint8Array[] | null) | undefined;
  /**
   * Set, the endpoints' header protection goes to this batch, applied after each datagram (what
   * the UDP driver does per burst of datagrams).
   */
  headerProtection: HeaderProtectionBatch | null = null;
  /** Set, the datagrams due at a step on each link are primed together (HeaderProtectionPrimer). */
  primer: HeaderProtectionPrimer | null = null;
  /** Called before every step (applications pump here). */
  readonly onStep: Array<() => void> = [];
  /**
   * NAT: the source address the datagrams of the endpoint at a (private) address appear from
   * (`rebind`), and the endpoint that datagrams to a public address reach.
   */
  private readonly natOut = new Map<string, string>();
  private readonly natIn = new Map<string, string>();
  /** Addresses whose datagrams vanish (a NAT mapping that expired, a host that is gone). */
  readonly unreachable = new Set<string>();
  private readonly links = new Map<string, { from: string; to: string; link: Link }>();
  private readonly buf = new Uint8Array(1500);
  private readonly seed: number;
  private readonly linkConfig: Partial<LinkConfig>;

  constructor(seed = 1, link: Partial<LinkConfig> = {}) {
    this.seed = seed;
    this.linkConfig = link;
  }

  add(address: string, ep: EndpointCore): EndpointCore {
    this.endpoints.set(address, ep);
    if (!this.events.has(address)) this.events.set(address, []);
    return ep;
  }

  link(from: string, to: string): Link {
    const k = `${from}>${to}`;
    let l = this.links.get(k);
    if (!l) {
      l = { from, to, link: new Link(this.linkConfig, new SeededRandom(this.seed * 1000 + this.links.size + 1)) };
      this.links.set(k, l);
    }
    return l.link;
  }

  /** Puts `bytes` on the link from `from` to `to` now (an injected datagram). */
  inject(from: string, to: string, bytes: Uint8Array): void {
    this.link(from, to).send(this.now, bytes);
  }

  /**
   * NAT rebinding: from now on the datagrams of the endpoint at `address` appear from
   * `publicAddress`, and datagrams to `publicAddress` reach it. Earlier public addresses keep
   * reaching it unless listed in `unreachable`.
   */
  rebind(address: string, publicAddress: string): void {
    this.natOut.set(address, publicAddress);
    this.natIn.set(publicAddress, address);
  }

  /** Datagrams to `publicAddress` reach the endpoint at `address` too (its answers still come from `address`). */
  alias(publicAddress: string, address: string): void {
    this.natIn.set(publicAddress, address);
  }

  /** The endpoint a datagram to `to` reaches, if any. */
  endpointAt(to: string): EndpointCore | undefined {
    if (this.unreachable.has(to)) return undefined;
    return this.endpoints.get(to) ?? this.endpoints.get(this.natIn.get(to) ?? '');
  }

  /** Every endpoint sends what it can now; events are collected. */
  flush(): void {
    for (const [addr, ep] of this.endpoints) {
      const from = this.natOut.get(addr) ?? addr;
      const hp = this.headerProtection;
      const poll = (): ReturnType<EndpointCore['pollTransmit']> => {
        const t = ep.pollTransmit(this.now, this.buf, hp);
        hp?.apply();
        return t;
      };
      for (let t = poll(); t; t = poll()) {
        const d: SentDatagram = { at: this.now, from, to: t.address, bytes: this.buf.slice(0, t.length) };
        this.sent.push(d);
        const out = this.tap ? this.tap(d) : [d.bytes];
        if (out) for (const b of out) this.link(from, t.address).send(this.now, b);
      }
      const evs = this.events.get(addr)!;
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) evs.push(e);
    }
  }

  step(): boolean {
    for (const f of this.onStep) f();
    this.flush();
    let next = Number.POSITIVE_INFINITY;
    for (const ep of this.endpoints.values()) next = Math.min(next, ep.pollTimeout());
    for (const l of this.links.values()) next = Math.min(next, l.link.nextArrival() ?? Number.POSITIVE_INFINITY);
    if (next === Number.POSITIVE_INFINITY) return false;
    this.now = Math.max(this.now, next);
    for (const l of this.links.values()) {
      const ep = this.endpointAt(l.to);
      const due = l.link.deliver(this.now);
      const primer = this.primer;
      if (ep && primer) {
        // The UDP driver's receive path: the burst's masks first, then each datagram.
        for (const d of due) ep.primeHeaderProtection(primer, d);
        primer.compute();
      }
      for (const d of due) ep?.handleDatagram(this.now, l.from, d);
      primer?.clear();
    }
    for (const ep of this.endpoints.values()) if (ep.pollTimeout() <= this.now) ep.handleTimeout(this.now);
    this.flush();
    return true;
  }

  drive(until: () => boolean, maxMs = 60_000): void {
    const end = this.now + maxMs;
    while (!until()) {
      if (this.now > end) throw new Error(`condition not reached within ${maxMs} ms of virtual time (now ${this.now.toFixed(1)})`);
      if (!this.step()) {
        if (until()) return;
        throw new Error(`nothing left to happen at ${this.now.toFixed(1)} ms and the condition does not hold`);
      }
    }
  }

  /** When the next arrival or timer is due (Infinity: nothing left). */
  nextEventTime(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const ep of this.endpoints.values()) next = Math.min(next, ep.pollTimeout());
    for (const l of this.links.values()) next = Math.min(next, l.link.nextArrival() ?? Number.POSITIVE_INFINITY);
    return next;
  }

  /** Lets `ms` of virtual time pass, handling everything due meanwhile (never beyond it). */
  runFor(ms: number): void {
    const end = this.now + ms;
    this.flush();
    while (this.nextEventTime() <= end) this.step();
    this.now = Math.max(this.now, end);
  }

  /** Runs until nothing is left to happen or `maxMs` passed. */
  settle(maxMs = 60_000): void {
    const end = this.now + maxMs;
    while (this.now <= end && this.step()) {
      /* step */
    }
  }

  eventsOf(address: string): EndpointEvent[] {
    return this.events.get(address)!;
  }
}

/** Identities and endpoint factories for the tests. */
export class Identities {
  readonly rng: SeededRandom;
  readonly serverKey: Uint8Array;
  constructor(seed: number) {
    this.rng = new SeededRandom(seed);
    this.serverKey = this.rng.fill(new Uint8Array(32));
  }

  staticKey(): Uint8Array {
    return this.rng.fill(new Uint8Array(32));
  }

  serverTls(): ConnectionTlsOptions {
    return { secretKey: this.serverKey, certificateType: 'rawPublicKey', alpnProtocols: ['test/1'] };
  }

  clientTls(): ConnectionTlsOptions {
    return {
      secretKey: this.rng.fill(new Uint8Array(32)),
      certificateType: 'rawPublicKey',
      alpnProtocols: ['test/1'],
      expectedPeerKey: publicKeyOf(this.serverKey),
    };
  }

  server(over: Partial<EndpointConfig> = {}, staticKey = this.staticKey()): EndpointCore {
    return new EndpointCore({
      staticKey,
      random: new SeededRandom(this.rng.nextU32()),
      server: { tls: this.serverTls() },
      ...over,
    });
  }

  client(over: Partial<EndpointConfig> = {}): EndpointCore {
    return new EndpointCore({ staticKey: this.staticKey(), random: new SeededRandom(this.rng.nextU32()), ...over });
  }
}
