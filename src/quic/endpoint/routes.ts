import { toBinaryString } from '../../codec/bytes.js';

/**
 * The endpoint's routing table: which connection a datagram is for. Generic over the endpoint's
 * entry type `E` (what it keeps per connection).
 *
 * - By Destination Connection ID: every active connection id we issued (RFC 9000 §5.2), keyed by
 *   a binary string (`toBinaryString`: one flat string of one char per byte, ~24 bytes of heap; a
 *   hex key was a rope of concatenations ~64 bytes per CID). A connection id two connections drew
 *   (a collision) keeps routing to the first.
 * - Server: by the client's Initial DCID, for its Initial and 0-RTT packets until they carry one
 *   of ours (§7.2).
 * - By remote address, the connections there: a Stateless Reset has a random DCID and is
 *   recognised by its token among the connections at the address it came from (§10.3.1).
 */
export class RouteTable<E> {
  private readonly byCid = new Map<string, E>();
  private readonly byInitialDcid = new Map<string, E>();
  private readonly byAddress = new Map<string, Set<E>>();
  /** The last short-header DCID looked up and its key (`shortKey`). */
  private lastShortDcid: Uint8Array = new Uint8Array(0);
  private lastShortKey = '';

  /** How many connection ids route to a connection. */
  get size(): number {
    return this.byCid.size;
  }

  /** The connection `cid` (bytes, or a key from `shortKey`) routes to. */
  get(cid: Uint8Array | string): E | undefined {
    return this.byCid.get(typeof cid === 'string' ? cid : toBinaryString(cid));
  }

  /**
   * The routing key of a short header's DCID (`cidLength` bytes after the first). The key of the
   * last one is kept with its bytes: a busy connection's datagrams all carry the same DCID, so
   * most datagrams skip building a key string (then hashing a fresh string) for the lookup. The
   * lookup itself is still made, so a retired or reassigned CID routes exactly as without the memo.
   */
  shortKey(datagram: Uint8Array, cidLength: number): string {
    const last = this.lastShortDcid;
    let same = last.length === cidLength;
    for (let i = 0; same && i < cidLength; i++) same = last[i] === datagram[1 + i];
    if (same) return this.lastShortKey;
    const dcid = datagram.subarray(1, 1 + cidLength);
    this.lastShortKey = toBinaryString(dcid);
    this.lastShortDcid = dcid.slice();
    return this.lastShortKey;
  }

  /** `cid` routes to `e`; false (and nothing changes) when it already routes somewhere: a collision. */
  add(cid: Uint8Array, e: E): boolean {
    const k = toBinaryString(cid);
    if (this.byCid.has(k)) return false;
    this.byCid.set(k, e);
    return true;
  }

  /** `cid` stops routing to `e` (unless it routes to another connection: a collision). */
  remove(cid: Uint8Array, e: E): void {
    const k = toBinaryString(cid);
    if (this.byCid.get(k) === e) this.byCid.delete(k);
  }

  /** Server: the client's Initial DCID routes to `e`; returns its key (for `removeInitial`). */
  addInitial(dcid: Uint8Array, e: E): string {
    const k = toBinaryString(dcid);
    this.byInitialDcid.set(k, e);
    return k;
  }

  /** The connection a client's Initial DCID (its routing key) routes to. */
  initial(key: string): E | undefined {
    return this.byInitialDcid.get(key);
  }

  /** The Initial DCID of key `key` stops routing to `e`. */
  removeInitial(key: string, e: E): void {
    if (this.byInitialDcid.get(key) === e) this.byInitialDcid.delete(key);
  }

  /** The connections whose peer is at `address`. */
  at(address: string): ReadonlySet<E> | undefined {
    return this.byAddress.get(address);
  }

  /** `e`'s peer is at `address`. */
  addAddress(address: string, e: E): void {
    let s = this.byAddress.get(address);
    if (!s) this.byAddress.set(address, (s = new Set()));
    s.add(e);
  }

  /** `e`'s peer is no longer at `address`. */
  removeAddress(address: string, e: E): void {
    const s = this.byAddress.get(address);
    if (!s) return;
    s.delete(e);
    if (s.size === 0) this.byAddress.delete(address);
  }
}
