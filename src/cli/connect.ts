import { DEFAULT_ALPN, Endpoint, Session } from '../index.js';
import { intOpt, opt, parseArgs } from './args.js';
import { loadOrCreateSecret, stdinToStream, streamToStdout } from './common.js';

export const CONNECT_HELP = `quic-peer connect: dial a quic-peer or iroh peer and pipe a stream

Usage: quic-peer connect [--alpn A] [--secret-file F] [--keylog FILE] [--qlog DIR] <id@ip:port | endpoint ticket>

Opens one bidirectional stream, pipes stdin into it (finishing it at EOF) and the stream to
stdout. Exits 0 after a clean close, non-zero with a one-line reason on any failure.

Options:
  --alpn A          ALPN to speak (default ${DEFAULT_ALPN})
  --secret-file F   load the Ed25519 secret key from F, or create F with a new one
  --keylog FILE     append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR        write a qlog trace (JSON-SEQ, qvis) of the connection into DIR
                    (<odcid>-client.sqlog)
  --timeout-ms N    dial timeout (default 10000)`;

export const CONNECT_SPEC = {
  alpn: { value: true },
  'secret-file': { value: true },
  keylog: { value: true },
  qlog: { value: true },
  'timeout-ms': { value: true },
  help: {},
} as const;

export async function runConnect(argv: string[]): Promise<number> {
  const p = parseArgs(argv, CONNECT_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${CONNECT_HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 1) throw new Error(`expected one remote (id@ip:port or ticket), got ${p.positionals.length}`);
  const secretFile = opt(p, 'secret-file');
  const keylog = opt(p, 'keylog');
  const qlogDir = opt(p, 'qlog');
  const ep = await Endpoint.bind({
    acceptIncoming: false,
    bind: ['127.0.0.1:0', '[::1]:0'],
    ...(secretFile ? { secretKey: loadOrCreateSecret(secretFile) } : {}),
    ...(keylog ? { keylog } : {}),
    ...(qlogDir ? { qlogDir } : {}),
  });
  try {
    const s = await Session.connect(ep, p.positionals[0]!, {
      alpn: opt(p, 'alpn') ?? DEFAULT_ALPN,
      timeoutMs: intOpt(p, 'timeout-ms', 10_000),
    });
    const { readable, writable } = await s.createBidirectionalStream();
    await Promise.all([stdinToStream(writable), streamToStdout(readable)]);
    s.close({ closeCode: 0, reason: 'done' });
    return 0;
  } finally {
    await ep.close();
  }
}
