/**
 * The case checks themselves, on made-up outcomes: a check that cannot fail, or that fails a
 * correct run, makes the quick cases in `npm test` meaningless.
 */
import { strict as assert } from 'node:assert';
import { caseByName } from './cases.js';
import type { CaseOutcome, QlogTrace, TracedPacket } from './harness.js';

/** A server Initial (long header, type 0) with an 8-byte SCID: one handshake for countHandshakes. */
function serverInitial(): TracedPacket {
  const head = Buffer.concat([
    Buffer.from([0xc0, 0, 0, 0, 1, 8]), Buffer.alloc(8, 1), Buffer.from([8]), Buffer.alloc(8, 2),
    Buffer.from([0, 4]), Buffer.alloc(4),
  ]);
  return { dir: 'toClient', stage: 'in', ms: 0, size: head.length, head, path: '127.0.0.1:1000' };
}

function toClient(path: string, ms: number): TracedPacket {
  return { dir: 'toClient', stage: 'in', ms, size: 30, head: Buffer.from([0x40]), path };
}

function frames(time: number, name: string, type: string, data: string): QlogTrace['events'][number] {
  return { time, name, data: { frames: [{ frame_type: type, data }] } };
}

/**
 * A rebind run: the server answered three client addresses and challenged each new one; the client
 * received the challenges in `received` and answered those in `answered`.
 */
function rebindOutcome(challenges: string[], received: string[], answered: string[]): CaseOutcome {
  const server: QlogTrace = { role: 'server', file: 's.qlog', events: challenges.map((c, i) => frames(i, 'transport:packet_sent', 'path_challenge', c)) };
  const client: QlogTrace = {
    role: 'client',
    file: 'c.qlog',
    events: [
      ...received.map((c, i) => frames(i, 'transport:packet_received', 'path_challenge', c)),
      ...answered.map((c, i) => frames(i, 'transport:packet_sent', 'path_response', c)),
    ],
  };
  const outcome = {
    errors: [],
    filesOk: 1,
    filesExpected: 1,
    bytes: 1,
    ms: 1,
    trace: [serverInitial(), toClient('127.0.0.2:1', 10), toClient('127.0.0.3:1', 20)],
    relay: { rebinds: 2 },
    keylog: {},
    qlogs: [server, client],
    clientStats: [],
    serverStats: [],
    serverSawClientAt: [],
  };
  return outcome as unknown as CaseOutcome;
}

describe('interop runner case checks', function () {
  const check = (o: CaseOutcome): string[] => {
    const c = caseByName('rebind-addr');
    assert.ok(c);
    return c.check(o, true).failures;
  };

  it('rebind: every challenge received and answered passes', function () {
    assert.deepEqual(check(rebindOutcome(['a1', 'b2', 'c3'], ['a1', 'b2', 'c3'], ['a1', 'b2', 'c3'])), []);
  });

  it('rebind: a challenge the client received and did not answer fails', function () {
    const f = check(rebindOutcome(['a1', 'b2', 'c3'], ['a1', 'b2', 'c3'], ['a1', 'b2']));
    assert.ok(f.some((x) => x.includes('PATH_CHALLENGE without a PATH_RESPONSE: c3')), f.join('; '));
  });

  it('rebind: a challenge that never reached the client (sent as it closed) asks nothing of it', function () {
    assert.deepEqual(check(rebindOutcome(['a1', 'b2', 'c3'], ['a1', 'b2'], ['a1', 'b2'])), []);
  });

  it('rebind: a client that answered no new path fails, whatever it received', function () {
    const f = check(rebindOutcome(['a1', 'b2'], [], []));
    assert.ok(f.some((x) => x.includes('the client answered 0 PATH_CHALLENGEs for 2 new paths')), f.join('; '));
  });
});
