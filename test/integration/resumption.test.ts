import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../../src/session/session.js';
import { FileSessionCache, MemorySessionCache } from '../../src/session/session-cache.js';
import { InvalidArgumentError } from '../../src/session/errors.js';
import { parseJsonSeq } from '../../src/session/qlog-files.js';
import { Endpoint } from '../../src/session/endpoint.js';
import { Loopback, readAll, within, writeAll } from './util.js';

/** One echo round trip on a new stream: by then the server's tickets (sent at its handshake's end) are in. */
async function echo(s: Session, peer: Session): Promise<void> {
  const served = (async () => {
    const st = await peer.nextBidiStream();
    if (st) await st.readable.pipeTo(st.writable);
  })();
  const st = await s.createBidirectionalStream();
  await writeAll(st.writable, new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(await within(readAll(st.readable), 5_000, 'echo')), 'ping');
  await served;
}

describe('Resumption over loopback UDP (quic-peer <-> quic-peer)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  afterEach(() => net.close());

  it('the second session resumes: session.resumed both ends, ids known both ways', async () => {
    const server = await net.bind();
    const cache = new MemorySessionCache();
    const client = await net.bind({ acceptIncoming: false, sessionCache: cache });
    const a = await net.connect(client, server);
    assert.equal(a.s.resumed, false);
    await echo(a.s, a.peer);
    assert.equal(cache.ticketCount(`rpk:${server.id.toString()}`), 2);
    a.s.close();
    const b = await net.connect(client, server);
    assert.equal(b.s.resumed, true);
    assert.equal(b.peer.resumed, true);
    assert.equal(b.s.remoteId.toString(), server.id.toString());
    assert.equal(b.peer.remoteId.toString(), client.id.toString());
    await echo(b.s, b.peer);
    // One ticket used (single use), two new ones, at most MAX_TICKETS_PER_SERVER kept.
    assert.equal(cache.ticketCount(`rpk:${server.id.toString()}`), 3);
  });

  it('no resumption with sessionCache: false, nor from a server with tickets: false', async () => {
    const server = await net.bind();
    const noCache = await net.bind({ acceptIncoming: false, sessionCache: false });
    await echo(...Object.values(await net.connect(noCache, server)) as [Session, Session]);
    assert.equal((await net.connect(noCache, server)).s.resumed, false);
    const quiet = await net.bind({ tickets: false });
    const cache = new MemorySessionCache();
    const client = await net.bind({ acceptIncoming: false, sessionCache: cache });
    await echo(...Object.values(await net.connect(client, quiet)) as [Session, Session]);
    assert.equal(cache.ticketCount(`rpk:${quiet.id.toString()}`), 0);
    assert.equal((await net.connect(client, quiet)).s.resumed, false);
  });

  it('a client without a session cache asks for no tickets, and the server sends none (RFC 9846 §4.2.9)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-tickets-'));
    try {
      const server = await net.bind({ qlogDir: dir });
      const noCache = await net.bind({ acceptIncoming: false, sessionCache: false });
      const cache = new MemorySessionCache();
      const caching = await net.bind({ acceptIncoming: false, sessionCache: cache });
      for (const client of [noCache, caching]) {
        const c = await net.connect(client, server);
        await echo(c.s, c.peer);
        c.s.close();
        await within(c.peer.closed, 5_000, 'server side closed');
      }
      await server.close();
      assert.equal(cache.ticketCount(`rpk:${server.id.toString()}`), 2);
      // The server's CRYPTO frames at 1-RTT are its NewSessionTickets: one connection has none.
      const cryptoAtOneRtt = readdirSync(dir).filter((f) => f.endsWith('-server.sqlog')).map((f) => {
        const events = parseJsonSeq(readFileSync(join(dir, f), 'utf8')) as Array<{ name?: string; data?: { header?: { packet_type?: string }; frames?: Array<{ frame_type: string }> } }>;
        return events.filter((e) => e.name === 'transport:packet_sent' && e.data?.header?.packet_type === '1RTT' && e.data.frames?.some((fr) => fr.frame_type === 'crypto')).length;
      });
      assert.deepEqual(cryptoAtOneRtt.map((n) => n > 0).sort(), [false, true], `1-RTT packets with CRYPTO per connection: ${cryptoAtOneRtt.join(', ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restarted server (new ticket keys) is dialled with a full handshake after its ticket fails', async () => {
    const server = await net.bind();
    const client = await net.bind({ acceptIncoming: false });
    const a = await net.connect(client, server);
    await echo(a.s, a.peer);
    const again = await net.bind({ secretKey: (server as unknown as { secretKey: Uint8Array }).secretKey });
    const r = await net.connect(client, again);
    assert.equal(r.s.resumed, false);
    assert.equal(r.s.remoteId.toString(), server.id.toString());
  });

  it('FileSessionCache keeps tickets across endpoints (mode 0600)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-cache-'));
    try {
      const file = join(dir, 'sessions.json');
      const server = await net.bind();
      const c1 = await net.bind({ acceptIncoming: false, sessionCache: new FileSessionCache(file) });
      const a = await net.connect(c1, server);
      await echo(a.s, a.peer);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const c2 = await net.bind({ acceptIncoming: false, secretKey: (c1 as unknown as { secretKey: Uint8Array }).secretKey, sessionCache: new FileSessionCache(file) });
      const b = await net.connect(c2, server);
      assert.equal(b.s.resumed, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("NEW_TOKEN: the client stores the server's token and a retry: 'always' server skips the Retry next time", async () => {
    const server = await net.bind({ retry: 'always' });
    const cache = new MemorySessionCache();
    const client = await net.bind({ acceptIncoming: false, sessionCache: cache });
    const a = await net.connect(client, server);
    await echo(a.s, a.peer);
    assert.ok(cache.token(`rpk:${server.id.toString()}`), 'a token was stored');
    assert.equal(server.core.stats.retriesSent, 1);
    const b = await net.connect(client, server);
    assert.equal(b.s.resumed, true);
    assert.equal(server.core.stats.retriesSent, 1, 'no Retry for the second connection');
  });

  it('bad options are InvalidArgumentErrors', async () => {
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', tickets: { count: 9 } }), InvalidArgumentError);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', tickets: { lifetimeS: 604801 } }), InvalidArgumentError);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', tickets: { nope: 1 } as never }), InvalidArgumentError);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', tickets: { earlyData: 'yes' } as never }), /tickets\.earlyData must be a boolean/);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', tickets: { replayCapacity: 0 } }), /tickets\.replayCapacity must be an integer/);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', sessionCache: {} as never }), InvalidArgumentError);
  });
});
