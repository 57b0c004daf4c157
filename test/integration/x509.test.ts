import assert from 'node:assert/strict';
import { Endpoint, Session, ConnectError, InvalidArgumentError, generateCertificate, generateSelfSigned, type GeneratedCertificate } from '../../src/index.js';

/**
 * X.509 mode over real loopback sockets: a server presenting a certificate chain, clients that
 * check it against given CAs and a name, a pin, or nothing (insecure), and mutual authentication.
 */
describe('X.509 mode over loopback', function () {
  this.timeout(20_000);
  let ca: GeneratedCertificate;
  let leaf: GeneratedCertificate;
  let selfSigned: GeneratedCertificate;
  before(async () => {
    ca = await generateCertificate({ names: ['Test Root'], ca: true });
    leaf = await generateCertificate({ names: ['localhost', '127.0.0.1'], issuer: ca });
    selfSigned = await generateSelfSigned({ names: ['localhost'], keyType: 'ed25519' });
  });

  async function echoServer(cert: GeneratedCertificate, extra: { clientCa?: string } = {}): Promise<Endpoint> {
    const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: ['hq-interop'], tls: { mode: 'x509', cert: cert.cert, key: cert.key, ...extra } });
    void (async () => {
      for await (const s of server) {
        void (async () => {
          for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) st.readable.pipeTo(st.writable).catch(() => {});
        })().catch(() => {});
      }
    })();
    return server;
  }

  async function echo(s: Session): Promise<string> {
    const { readable, writable } = await s.createBidirectionalStream();
    const w = writable.getWriter();
    await w.write(new TextEncoder().encode('ping'));
    await w.close();
    let out = '';
    for await (const c of readable) out += new TextDecoder().decode(c);
    return out;
  }

  it('options are checked: unknown or mistyped X.509 options throw InvalidArgumentError naming them', async () => {
    const bad = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
      await assert.rejects(p, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message));
    };
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'x509', cert: leaf.cert, key: leaf.key, bogus: 1 } as never }), /unknown option 'bogus'/);
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'tofu' } as never }), /tls\.mode must be 'rawPublicKey' or 'x509'/);
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'x509', cert: leaf.cert } }), /cert and key go together/);
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'x509' } }), /needs tls\.cert and tls\.key/);
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'x509', cert: 'not pem', key: leaf.key } }), /no -----BEGIN CERTIFICATE----- block/);
    await bad(Endpoint.bind({ bind: '127.0.0.1:0', tls: { mode: 'x509', cert: leaf.cert, key: selfSigned.key } }), /not the key of the certificate/);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      await bad(Session.connect(client, '127.0.0.1:1', { tls: { bogus: 1 } as never }), /unknown option 'bogus'/);
      await bad(Session.connect(client, '127.0.0.1:1', { tls: { insecureSkipVerify: true, ca: ca.cert } }), /exclude each other/);
      await bad(Session.connect(client, '127.0.0.1:1', { tls: { pinSha256: ['abc'] } }), /not a SHA-256 hash/);
      await bad(Session.connect(client, '127.0.0.1:1', { serverName: 'x', directAddrs: ['127.0.0.1:2'] }), /directAddrs/);
      await bad(Session.connect(client, 'nonsense', { serverName: 'x' }), /not "host:port"/);
    } finally {
      await client.close();
    }
  });

  it('the system roots by default: a self-signed server is an unknown CA', async () => {
    const server = await echoServer(leaf);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, tls: { mode: 'x509' } });
    try {
      const err = await Session.connect(client, server.boundAddresses[0]!, { serverName: 'localhost', alpn: 'hq-interop' }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError && err.kind === 'authentication', String(err));
      assert.match(err.message, /unknown_ca: CN=localhost is issued by CN=Test Root/);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('a CA-signed chain, verified against the CA and the name', async () => {
    const server = await echoServer(leaf);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const s = await Session.connect(client, server.boundAddresses[0]!, { serverName: 'localhost', alpn: 'hq-interop', tls: { ca: ca.cert } });
      assert.equal(s.alpn, 'hq-interop');
      assert.equal(s.peerCertificates?.length, 1);
      assert.equal(await echo(s), 'ping');
      s.close();
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('the IP address is checked when dialling an IP without serverName', async () => {
    const server = await echoServer(leaf);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const s = await Session.connect(client, server.boundAddresses[0]!, { alpn: 'hq-interop', tls: { ca: ca.cert } });
      assert.equal(await echo(s), 'ping');
      s.close();
      const err = await Session.connect(client, server.boundAddresses[0]!, { serverName: 'example.com', alpn: 'hq-interop', tls: { ca: ca.cert } }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.kind, 'authentication');
      assert.match(err.message, /bad_certificate.*not valid for the name "example.com"/);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('an unknown CA is refused with unknown_ca (CRYPTO_ERROR 0x130 in the CONNECTION_CLOSE)', async () => {
    const other = await generateCertificate({ names: ['Other Root'], ca: true });
    const server = await echoServer(leaf);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const err = await Session.connect(client, server.boundAddresses[0]!, { serverName: 'localhost', alpn: 'hq-interop', tls: { ca: other.cert } }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.kind, 'authentication');
      assert.match(err.message, /unknown_ca/);
      assert.equal(err.reason?.kind, 'transport');
      assert.equal(err.reason?.code, 0x100 + 48);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('a self-signed Ed25519 server: pinned, insecure, or as its own CA', async () => {
    const server = await echoServer(selfSigned);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    const addr = server.boundAddresses[0]!;
    try {
      for (const tls of [{ pinSha256: [selfSigned.spkiSha256] }, { insecureSkipVerify: true }, { ca: selfSigned.cert }]) {
        const s = await Session.connect(client, addr, { serverName: 'localhost', alpn: 'hq-interop', tls });
        assert.equal(await echo(s), 'ping', JSON.stringify(Object.keys(tls)));
        s.close();
      }
      const err = await Session.connect(client, addr, { serverName: 'localhost', alpn: 'hq-interop', tls: { pinSha256: [leaf.spkiSha256] } }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError && err.kind === 'authentication', String(err));
      assert.match(err.message, /not pinned/);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('a server with several chains gives each client the one for its SNI', async () => {
    const ec = await generateCertificate({ names: ['ec.test'], issuer: ca });
    const rsa = await generateCertificate({ names: ['rsa.test'], issuer: ca, keyType: 'rsa-2048' });
    const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: ['hq-interop'], tls: { mode: 'x509', identities: [ec, rsa] } });
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      for (const [name, cert] of [['ec.test', ec], ['rsa.test', rsa]] as const) {
        const s = await Session.connect(client, server.boundAddresses[0]!, { serverName: name, alpn: 'hq-interop', tls: { ca: ca.cert } });
        assert.equal(Buffer.from(s.peerCertificates![0]!).toString('base64'), cert.cert.replace(/-----[A-Z ]+-----|\s/g, ''));
        s.close();
      }
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('mutual authentication: the server sees the client chain; a client without one is refused', async () => {
    const clientCert = await generateCertificate({ names: ['client'], issuer: ca, extKeyUsage: ['clientAuth'] });
    const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: ['hq-interop'], tls: { mode: 'x509', cert: leaf.cert, key: leaf.key, clientCa: ca.cert } });
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    const addr = server.boundAddresses[0]!;
    try {
      const accepted = Session.accept(server);
      const s = await Session.connect(client, addr, { serverName: 'localhost', alpn: 'hq-interop', tls: { ca: ca.cert, cert: clientCert.cert, key: clientCert.key } });
      const peer = await accepted;
      assert.ok(peer);
      assert.equal(peer.peerCertificates?.length, 1);
      assert.equal(s.peerCertificates?.length, 1);
      s.close();
      // TLS 1.3: the client's handshake completes when it sends its Finished, before the server
      // checked its (missing) certificate; the server's refusal then closes the session.
      const refused = await Session.connect(client, addr, { serverName: 'localhost', alpn: 'hq-interop', tls: { ca: ca.cert } }).then(
        async (s2) => (await s2.closed).reason,
        (e: unknown) => (e instanceof ConnectError ? e.message : String(e)),
      );
      assert.match(refused, /certificate_required|client sent no certificate/);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
  it('resumption in X.509 mode: the second dial to the same name resumes and still reports the chain; another name does not', async () => {
    const server = await echoServer(leaf);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const dial = (serverName: string): Promise<Session> => Session.connect(client, server.boundAddresses[0]!, { serverName, alpn: 'hq-interop', tls: { ca: ca.cert } });
      const a = await dial('localhost');
      assert.equal(a.resumed, false);
      assert.equal(await echo(a), 'ping'); // the tickets are in by then
      const b = await dial('localhost');
      assert.equal(b.resumed, true);
      assert.deepEqual(b.peerCertificates, a.peerCertificates, 'the chain verified by the first handshake');
      assert.equal(await echo(b), 'ping');
      const c = await dial('127.0.0.1');
      assert.equal(c.resumed, false, 'a ticket is kept per name');
      // A dial with another policy re-checks the ticket's chain: a pin it fails gives a full
      // handshake, which fails on the pin (never a resumption that skips the check).
      const pinned = await Session.connect(client, server.boundAddresses[0]!, { serverName: 'localhost', alpn: 'hq-interop', tls: { pinSha256: [selfSigned.spkiSha256] } }).catch((e: unknown) => e);
      assert.ok(pinned instanceof ConnectError && pinned.kind === 'authentication', String(pinned));
      for (const s of [a, b, c]) s.close();
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('an X.509 server that requires client certificates issues no tickets', async () => {
    const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: ['hq-interop'], tls: { mode: 'x509', cert: leaf.cert, key: leaf.key, clientCa: ca.cert } });
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, tls: { mode: 'x509', cert: leaf.cert, key: leaf.key } });
    void (async () => {
      for await (const s of server) {
        void (async () => {
          for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) st.readable.pipeTo(st.writable).catch(() => {});
        })().catch(() => {});
      }
    })();
    try {
      const dial = (): Promise<Session> => Session.connect(client, server.boundAddresses[0]!, { serverName: 'localhost', alpn: 'hq-interop', tls: { ca: ca.cert } });
      const a = await dial();
      assert.equal(await echo(a), 'ping');
      const b = await dial();
      assert.equal(b.resumed, false);
      a.close();
      b.close();
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
});
