import { DEFAULT_ALPN, Endpoint, Session } from '../index.js';
import { intOpt, opt, parseArgs, type ParsedArgs } from './args.js';
import { loadOrCreateSecret, stderr, stdinToStream, streamToStdout } from './common.js';

export const LISTEN_HELP = `quic-peer listen: accept sessions from quic-peer or iroh peers

Usage: quic-peer listen [--alpn A]... [--bind ip:port]... [--secret-file F] [--echo] [--keylog FILE] [--qlog DIR]

Prints 'listening <id>@<ip:port>' and 'ticket <endpoint…>' on stderr, then:
  without --echo  accepts ONE session and pipes its first bidirectional stream to stdout and
                  stdin into it (like iroh's dumbpipe); exits when both directions are done
  with --echo     serves any number of sessions, echoing every bidirectional stream, every
                  unidirectional stream (on a new unidirectional stream back) and every datagram,
                  until interrupted (Ctrl-C)

Options:
  --alpn A          ALPN to serve (repeatable; default ${DEFAULT_ALPN})
  --bind ip:port    address to bind (repeatable; default 127.0.0.1:0 and [::1]:0)
  --secret-file F   load the Ed25519 secret key from F, or create F with a new one (keeps the id)
  --echo            echo server mode (see above)
  --keylog FILE     append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR        write a qlog trace (JSON-SEQ, qvis) of every connection into DIR,
                    one file <odcid>-server.sqlog each
  --max-sessions N  most sessions at once (default 4096)`;

export const LISTEN_SPEC = {
  alpn: { value: true, repeat: true },
  bind: { value: true, repeat: true },
  'secret-file': { value: true },
  echo: {},
  keylog: { value: true },
  qlog: { value: true },
  'max-sessions': { value: true },
  help: {},
} as const;

export async function runListen(argv: string[]): Promise<number> {
  const p = parseArgs(argv, LISTEN_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${LISTEN_HELP}\n`);
    return 0;
  }
  if (p.positionals.length > 0) throw new Error(`unexpected argument '${p.positionals[0]}'`);
  const ep = await bindFromArgs(p);
  for (const a of ep.addr().addrs) stderr(`listening ${ep.id.toString()}@${a}`);
  stderr(`ticket ${ep.ticket()}`);
  if (p.flags.has('echo')) return serveEcho(ep);
  return pipeOne(ep);
}

async function bindFromArgs(p: ParsedArgs): Promise<Endpoint> {
  const secretFile = opt(p, 'secret-file');
  const keylog = opt(p, 'keylog');
  const qlogDir = opt(p, 'qlog');
  const bind = p.options.get('bind');
  return Endpoint.bind({
    ...(secretFile ? { secretKey: loadOrCreateSecret(secretFile) } : {}),
    alpns: p.options.get('alpn') ?? [DEFAULT_ALPN],
    ...(bind ? { bind } : {}),
    ...(keylog ? { keylog } : {}),
    ...(qlogDir ? { qlogDir } : {}),
    maxSessions: intOpt(p, 'max-sessions', 4096),
  });
}

/** Accepts one session and pipes its first bidi stream with stdin/stdout. */
async function pipeOne(ep: Endpoint): Promise<number> {
  try {
    const s = await Session.accept(ep);
    if (!s) return 1;
    stderr(`session from ${s.remoteId.toString()} (${s.alpn})`);
    const st = await s.nextBidiStream();
    if (!st) {
      stderr(`session closed before opening a stream: ${(await s.closed).reason}`);
      return 1;
    }
    // The dialer closes the session once it has read our FIN; its CONNECTION_CLOSE carries the
    // ACK of that FIN, so our writer's close() has resolved by then.
    await Promise.all([streamToStdout(st.readable), stdinToStream(st.writable)]);
    s.close({ closeCode: 0, reason: 'done' });
    return 0;
  } finally {
    await ep.close();
  }
}

/** Echoes everything of every session until interrupted. */
async function serveEcho(ep: Endpoint): Promise<number> {
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const serving = (async () => {
    for (let s = await Session.accept(ep); s; s = await Session.accept(ep)) void echoSession(s);
  })();
  await Promise.race([stop, serving]);
  await ep.close();
  return 0;
}

export async function echoSession(s: Session): Promise<void> {
  const bidi = (async () => {
    for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
      void st.readable.pipeTo(st.writable).catch(() => {});
    }
  })();
  const uni = (async () => {
    for (let r = await s.nextUniStream(); r; r = await s.nextUniStream()) {
      const incoming = r;
      void s.createUnidirectionalStream().then((w) => incoming.pipeTo(w)).catch(() => {});
    }
  })();
  const datagrams = (async () => {
    for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) await s.sendDatagram(d).catch(() => {});
  })();
  await Promise.all([bidi, uni, datagrams]).catch(() => {});
}
