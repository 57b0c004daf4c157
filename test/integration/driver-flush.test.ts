import assert from 'node:assert/strict';
import type { Connection } from '../../src/quic/connection/connection.js';
import type { EndpointCore } from '../../src/quic/endpoint/endpoint-core.js';
import { UdpDriver, bindSocket } from '../../src/session/driver.js';
import { CryptoRandom } from '../../src/tls/random.js';
import type { X25519KeyPair } from '../../src/tls/crypto.js';
import { X25519KeyPool } from '../../src/tls/x25519-pool.js';
import { Identities } from '../unit/endpoint/net.js';
import { Loopback } from './util.js';

/** Real loopback sockets, bounded time: the driver's flush within a burst (flushBudgetMs). */
describe('UDP driver: flushing within a burst of received datagrams', () => {
  async function run(serverBudget: number): Promise<{ connected: number; burstFlushes: number }> {
    const ids = new Identities(31);
    const server = ids.server();
    const client = ids.client();
    const sSock = await bindSocket('127.0.0.1:0');
    const cSock = await bindSocket('127.0.0.1:0');
    const sDrv = new UdpDriver(server, [sSock], { onEvent: () => {}, flushBudgetMs: serverBudget });
    const cDrv = new UdpDriver(client, [cSock], { onEvent: () => {} });
    try {
      const conns: Connection[] = [];
      for (let i = 0; i < 8; i++) conns.push(client.connect(cDrv.now(), sSock.address, { tls: ids.clientTls() }).connection);
      cDrv.schedule();
      const deadline = Date.now() + 10_000;
      while (!conns.every((c) => c.isConnected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return { connected: conns.filter((c) => c.isConnected).length, burstFlushes: sDrv.counters.burstFlushes };
    } finally {
      closeAll(server, client);
      await Promise.all([sDrv.close(), cDrv.close()]);
    }
  }

  function closeAll(...eps: EndpointCore[]): void {
    for (const ep of eps) ep.close(0);
  }

  it('with a budget of 0 the server flushes after every datagram, and every handshake completes', async () => {
    const r = await run(0);
    assert.equal(r.connected, 8);
    assert.ok(r.burstFlushes >= 8, `burst flushes: ${r.burstFlushes}`);
  });

  it('with no budget (Infinity) it only flushes at the end of the turn', async () => {
    const r = await run(Number.POSITIVE_INFINITY);
    assert.equal(r.connected, 8);
    assert.equal(r.burstFlushes, 0);
  });
});

describe('UDP driver: send errors', () => {
  it('a datagram the OS or Node refuses is reported with its address and counted, not taken for a driver failure', async () => {
    const ids = new Identities(32);
    const client = ids.client();
    const sock = await bindSocket('127.0.0.1:0');
    const errors: Array<{ address: string; code: string | undefined }> = [];
    const drv = new UdpDriver(client, [sock], {
      onEvent: () => {},
      onSendError: (address, e) => errors.push({ address, code: (e as NodeJS.ErrnoException).code }),
    });
    try {
      // Port 0 is refused by Node itself (thrown by send, no callback): loopback, nothing leaves.
      client.connect(drv.now(), '127.0.0.1:0', { tls: ids.clientTls() });
      drv.schedule();
      const deadline = Date.now() + 2_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(errors[0], { address: '127.0.0.1:0', code: 'ERR_SOCKET_BAD_PORT' });
      assert.equal(drv.counters.sendErrors, errors.length);
      assert.equal(drv.counters.coreErrors, 0, 'a refused send is not a driver failure');
    } finally {
      client.close(0);
      await drv.close();
    }
  });
});

describe('UDP driver: sockets resolve IP literals without a tick', () => {
  it('a send to an IP literal is resolved synchronously (no process.nextTick per datagram); a host name still resolves', async () => {
    const a = await bindSocket('127.0.0.1:0');
    const b = await bindSocket('127.0.0.1:0');
    try {
      const port = Number(b.address.split(':')[1]);
      const got: string[] = [];
      const arrived = new Promise<void>((resolve) => b.socket.on('message', (m) => { got.push(m.toString()); if (got.length === 2) resolve(); }));
      // node:dgram calls the socket's lookup from send(): count the ticks queued meanwhile.
      const realNextTick = process.nextTick;
      let ticks = 0;
      process.nextTick = ((...args: Parameters<typeof process.nextTick>) => { ticks++; realNextTick(...args); }) as typeof process.nextTick;
      try {
        a.socket.send(Buffer.from('literal'), port, '127.0.0.1');
      } finally {
        process.nextTick = realNextTick;
      }
      assert.equal(ticks, 0);
      a.socket.send(Buffer.from('name'), port, 'localhost');
      await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error(`got only ${got.join(',')}`)), 5000))]);
      assert.deepEqual(got.sort(), ['literal', 'name']);
    } finally {
      a.socket.close();
      b.socket.close();
    }
  });
});

describe('UDP driver: work after the send (afterSend), key shares made ahead', () => {
  it('a key pool refills after the flush that sent the ClientHello, and the next dial carries that spare', async () => {
    const ids = new Identities(33);
    const server = ids.server();
    const client = ids.client();
    const sSock = await bindSocket('127.0.0.1:0');
    const cSock = await bindSocket('127.0.0.1:0');
    const sDrv = new UdpDriver(server, [sSock], { onEvent: () => {} });
    const cDrv = new UdpDriver(client, [cSock], { onEvent: () => {} });
    const sentAtRefill: number[] = [];
    const pool = new X25519KeyPool(new CryptoRandom(), (work) =>
      cDrv.afterSend(() => {
        sentAtRefill.push(cDrv.counters.sent);
        work();
      }),
    );
    const spare = (): X25519KeyPair | undefined => (pool as unknown as { spare: X25519KeyPair | undefined }).spare;
    const taken: X25519KeyPair[] = [];
    const keys = { take: (): X25519KeyPair => (taken.push(pool.take()), taken[taken.length - 1]!) };
    const connected = async (c: Connection): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!c.isConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      assert.ok(c.isConnected, 'handshake completed');
    };
    try {
      const sent0 = cDrv.counters.sent;
      const a = client.connect(cDrv.now(), sSock.address, { tls: { ...ids.clientTls(), x25519Keys: keys } }).connection;
      assert.equal(spare(), undefined, 'nothing made ahead yet');
      cDrv.schedule();
      await connected(a);
      assert.ok(sentAtRefill[0]! > sent0, `the spare was made after the ClientHello left (sent ${sentAtRefill[0]} > ${sent0})`);
      const made = spare();
      assert.ok(made, 'a spare waits for the next dial');
      const b = client.connect(cDrv.now(), sSock.address, { tls: { ...ids.clientTls(), x25519Keys: keys } }).connection;
      cDrv.schedule();
      await connected(b);
      assert.equal(taken[1], made, 'the second dial used the spare');
    } finally {
      server.close(0);
      client.close(0);
      await Promise.all([sDrv.close(), cDrv.close()]);
    }
  });

  it('an Endpoint makes the next key share ahead on both sides of a handshake, and drops it when closed', async () => {
    const net = new Loopback();
    try {
      const server = await net.bind();
      const client = await net.bind({ acceptIncoming: false });
      const spareOf = (ep: unknown): X25519KeyPair | undefined => (ep as { x25519Keys: { spare: X25519KeyPair | undefined } }).x25519Keys.spare;
      await new Promise((r) => setImmediate(r));
      const boundSpare = spareOf(client);
      assert.ok(boundSpare && spareOf(server), 'a bound endpoint has a share made ahead before its first handshake');
      const first = await net.connect(client, server);
      assert.notEqual(spareOf(client), boundSpare, 'the first dial took it');
      assert.ok(spareOf(client), "the dialling endpoint's next share is made");
      assert.ok(spareOf(server), "the accepting endpoint's next share is made");
      const clientSpare = spareOf(client)!;
      const serverSpare = spareOf(server)!;
      first.s.close();
      const second = await net.connect(client, server);
      assert.notEqual(spareOf(client), clientSpare, 'the dial took the spare (a new one replaced it)');
      assert.notEqual(spareOf(server), serverSpare, 'the accept took the spare');
      second.s.close();
      await client.close();
      assert.equal(spareOf(client), undefined, 'a closed endpoint keeps no private key made ahead');
    } finally {
      await net.close();
    }
  });
});
