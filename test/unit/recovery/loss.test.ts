import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { LossDetector, type AckResult, type LossDetectorOptions, type LossTimeoutResult } from '../../../src/quic/recovery/loss.js';
import { RttEstimator } from '../../../src/quic/recovery/rtt.js';
import type { SentPacket } from '../../../src/quic/recovery/sent-packets.js';
import { SeededRandom } from '../../../src/tls/random.js';

const { Initial, Handshake, Application } = PacketSpace;
const INF = Number.POSITIVE_INFINITY;

type Tok = string;

/**
 * The detector as a connection with one path drives it: every call gets that path's RTT
 * estimator (`rtt`, which the connection's PathRecovery owns), so the tests below read as RFC 9002
 * Appendix A does, with one estimator.
 */
class OnePathDetector<T> extends LossDetector<T> {
  readonly rtt = new RttEstimator();

  constructor(options: LossDetectorOptions) {
    super(options);
  }

  override onPacketSent(space: PacketSpace, packet: SentPacket<T>, rtt: RttEstimator = this.rtt): void {
    super.onPacketSent(space, packet, rtt);
  }

  override onAckReceived(space: PacketSpace, ranges: readonly number[], ackDelayMs: number, now: number, rtt: RttEstimator = this.rtt): AckResult<T> {
    const r = super.onAckReceived(space, ranges, ackDelayMs, now, rtt);
    // The connection applies persistent congestion to the path's estimator (RFC 9002 §5.2).
    if (r.persistentCongestion) rtt.onPersistentCongestion();
    return r;
  }

  override onLossTimeout(now: number, rtt: RttEstimator = this.rtt): LossTimeoutResult<T> {
    return super.onLossTimeout(now, rtt);
  }

  override discardSpace(space: PacketSpace, now: number, rtt: RttEstimator = this.rtt): number {
    return super.discardSpace(space, now, rtt);
  }

  override onHandshakeConfirmed(now: number, rtt: RttEstimator = this.rtt): void {
    super.onHandshakeConfirmed(now, rtt);
  }

  override rearm(now: number, rtt: RttEstimator = this.rtt): void {
    super.rearm(now, rtt);
  }
}

function pkt(pn: number, timeSent: number, opts: { size?: number; ackEliciting?: boolean; inFlight?: boolean } = {}): SentPacket<Tok> {
  return {
    pn,
    timeSent,
    size: opts.size ?? 1000,
    ackEliciting: opts.ackEliciting ?? true,
    inFlight: opts.inFlight ?? true,
    record: `p${pn}`,
  };
}

function pns(ps: readonly SentPacket<Tok>[]): number[] {
  return ps.map((p) => p.pn);
}

/** A server-side detector (address validation never blocks) with the handshake confirmed. */
function confirmed(maxAckDelay = 25): OnePathDetector<Tok> {
  const d = new OnePathDetector<Tok>({ isServer: true, maxAckDelay });
  d.onHandshakeConfirmed(0);
  return d;
}

describe('LossDetector (RFC 9002 §6, Appendix A)', () => {
  describe('acknowledgments and RTT samples', () => {
    it('an RTT sample goes to the estimator of the path its packet left on (RFC 9000 §9.4); the timers use the current one', () => {
      const d = confirmed();
      const oldPath = new RttEstimator();
      // Packet 0 left on another path; packet 1 on the current one (the detector's `rtt`).
      d.onPacketSent(Application, { ...pkt(0, 0), pathRtt: oldPath });
      d.onPacketSent(Application, pkt(1, 50));
      d.onAckReceived(Application, [0, 0], 0, 80);
      assert.equal(oldPath.latest, 80, 'the old path took the sample of its packet');
      assert.equal(d.rtt.hasSample, false, 'the current path took none');
      d.onAckReceived(Application, [1, 0], 0, 150);
      assert.equal(d.rtt.latest, 100);
      assert.equal(oldPath.latest, 80);
    });

    it('acks ranges, samples the RTT from the largest, and clears bytes in flight', () => {
      const d = confirmed();
      [0, 10, 30, 35, 40].forEach((t, pn) => d.onPacketSent(Application, pkt(pn, t)));
      assert.equal(d.bytesInFlight, 5000);
      const r = d.onAckReceived(Application, [4, 3, 1, 0], 0, 140);
      assert.deepEqual(pns(r.newlyAcked), [0, 1, 3, 4]);
      assert.deepEqual(pns(r.lost), []);
      assert.equal(r.rttUpdated, true);
      assert.equal(d.rtt.latest, 100);
      assert.equal(d.rtt.smoothed, 100);
      assert.equal(d.rtt.rttvar, 50);
      assert.equal(d.firstRttSampleTime, 140);
      assert.equal(d.bytesInFlightIn(Application), 1000);
      assert.equal(d.largestAcked(Application), 4);
      assert.equal(d.outstanding(Application), 1);
      assert.equal(d.lossTime(Application), 30 + 112.5, 'pn 2 waits for the time threshold');
      assert.equal(d.timeout, 142.5);
    });

    it('no RTT sample when the largest acknowledged is not newly acknowledged (§5.1)', () => {
      const d = confirmed();
      for (let pn = 0; pn < 3; pn++) d.onPacketSent(Application, pkt(pn, 0));
      d.onAckReceived(Application, [2, 2], 0, 100);
      const r = d.onAckReceived(Application, [2, 1], 0, 500);
      assert.deepEqual(pns(r.newlyAcked), [1]);
      assert.equal(r.rttUpdated, false);
      assert.equal(d.rtt.smoothed, 100);
    });

    it('no RTT sample when only non-ack-eliciting packets are newly acknowledged (§5.1)', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0, { ackEliciting: false, inFlight: false }));
      const r = d.onAckReceived(Application, [0, 0], 5000, 100);
      assert.deepEqual(pns(r.newlyAcked), [0]);
      assert.equal(r.rttUpdated, false);
      assert.equal(d.rtt.hasSample, false);
    });

    it('the second sample applies the ack delay; Initial ack delay is ignored', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0));
      d.onAckReceived(Application, [0, 0], 0, 100);
      d.onPacketSent(Application, pkt(1, 200));
      d.onAckReceived(Application, [1, 1], 10, 320);
      assert.equal(d.rtt.smoothed, 101.25);
      assert.equal(d.rtt.rttvar, 40);

      const c = new OnePathDetector<Tok>({ isServer: true });
      c.onPacketSent(Initial, pkt(0, 0));
      c.onAckReceived(Initial, [0, 0], 0, 100);
      c.onPacketSent(Initial, pkt(1, 200));
      c.onAckReceived(Initial, [1, 1], 30, 330); // latest 130, delay ignored
      assert.equal(c.rtt.smoothed, 0.875 * 100 + 0.125 * 130);
    });

    it('ACK-only packets are tracked (for ACK-of-ACK) but not in flight and arm no timer', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0, { ackEliciting: false, inFlight: false }));
      assert.equal(d.bytesInFlight, 0);
      assert.equal(d.timeout, INF);
      assert.equal(d.outstanding(Application), 1);
    });

    it('a duplicate ACK changes nothing', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0));
      d.onAckReceived(Application, [0, 0], 0, 100);
      const r = d.onAckReceived(Application, [0, 0], 0, 200);
      assert.deepEqual(pns(r.newlyAcked), []);
      assert.equal(r.rttUpdated, false);
    });
  });

  describe('ACK of a packet never sent (RFC 9000 §13.1)', () => {
    function assertViolation(fn: () => unknown): void {
      assert.throws(fn, (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION);
    }

    it('above the largest sent, in an empty space, or covering a skipped number: PROTOCOL_VIOLATION', () => {
      const d = confirmed();
      assertViolation(() => d.onAckReceived(Handshake, [0, 0], 0, 10));
      d.onPacketSent(Application, pkt(0, 0));
      d.onPacketSent(Application, pkt(1, 1));
      d.onPacketSent(Application, pkt(3, 2)); // 2 skipped
      d.onPacketSent(Application, pkt(4, 3));
      assertViolation(() => d.onAckReceived(Application, [5, 5], 0, 10));
      assertViolation(() => d.onAckReceived(Application, [4, 0], 0, 10));
      assertViolation(() => d.onAckReceived(Application, [4, 4, 2, 2], 0, 10));
      assert.equal(d.outstanding(Application), 4, 'nothing changed by a refused ACK');
      assert.equal(d.largestAcked(Application), -1);
      const r = d.onAckReceived(Application, [4, 3, 1, 0], 0, 10);
      assert.deepEqual(pns(r.newlyAcked), [0, 1, 3, 4]);
    });

    it('packet numbers below the first one sent count as skipped', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(5, 0));
      assertViolation(() => d.onAckReceived(Application, [5, 4], 0, 10));
      assert.throws(() => d.onPacketSent(Application, pkt(5, 1)), RangeError, 'packet numbers must increase');
    });
  });

  describe('loss detection (§6.1)', () => {
    it('packet threshold: 3 packets below the largest acked are lost at once', () => {
      const d = confirmed();
      for (let pn = 0; pn < 5; pn++) d.onPacketSent(Application, pkt(pn, pn));
      const r = d.onAckReceived(Application, [3, 3], 0, 50);
      assert.deepEqual(pns(r.newlyAcked), [3]);
      assert.deepEqual(pns(r.lost), [0]);
      assert.equal(d.rtt.latest, 47);
      // pn 1 and 2 wait: loss_time = time_sent + 9/8 * 47
      assert.equal(d.lossTime(Application), 1 + 52.875);
      assert.equal(d.timeout, 53.875);
    });

    it('a packet declared lost and acknowledged later is handed back once as lateAcked, outside flight', () => {
      const d = confirmed();
      for (let pn = 0; pn < 5; pn++) d.onPacketSent(Application, pkt(pn, pn));
      assert.deepEqual(pns(d.onAckReceived(Application, [4, 3], 0, 50).lost), [0, 1]);
      const inFlight = d.bytesInFlight;
      // The ACK of 0 and 1 arrives after all (reordering): their frames reached the peer.
      const r = d.onAckReceived(Application, [4, 0], 0, 51);
      assert.deepEqual(pns(r.newlyAcked), [2]);
      assert.deepEqual(pns(r.lateAcked), [0, 1]);
      assert.equal(d.bytesInFlight, inFlight - 1000, 'only pn 2 left flight now');
      d.releaseAckResult();
      assert.deepEqual(pns(d.onAckReceived(Application, [4, 0], 0, 52).lateAcked), [], 'handed back once');
    });

    it('lost packets are remembered for 3 PTOs and at most 64, non-ack-eliciting ones not at all', () => {
      const d = confirmed();
      for (let pn = 0; pn < 100; pn++) d.onPacketSent(Application, pkt(pn, 0, { ackEliciting: pn !== 10, inFlight: pn !== 10 }));
      d.onPacketSent(Application, pkt(100, 1));
      assert.equal(d.onAckReceived(Application, [100, 100], 0, 2).lost.length, 100);
      // Remembered: the last 64 ack-eliciting ones (36..99); pn 10 was not ack-eliciting.
      assert.deepEqual(pns(d.onAckReceived(Application, [100, 0], 0, 2).lateAcked), Array.from({ length: 64 }, (_, i) => 36 + i));
      for (let pn = 101; pn < 106; pn++) d.onPacketSent(Application, pkt(pn, 10));
      d.onAckReceived(Application, [105, 105], 0, 11); // 101, 102 lost at 11
      const pto = d.rtt.pto(Application, 25);
      d.onAckReceived(Application, [105, 105], 0, 10 + 3 * pto + 1); // aged past 3 PTOs: forgotten
      assert.deepEqual(pns(d.onAckReceived(Application, [105, 101], 0, 10 + 3 * pto + 2).lateAcked), []);
    });

    it('time threshold: the timer fires at time_sent + 9/8 * max(smoothed, latest)', () => {
      const d = confirmed();
      for (let pn = 0; pn < 5; pn++) d.onPacketSent(Application, pkt(pn, pn));
      d.onAckReceived(Application, [3, 3], 0, 50);
      assert.deepEqual(d.onLossTimeout(53.8), { kind: 'none' }, 'early call does nothing');
      const t1 = d.onLossTimeout(53.875);
      assert.equal(t1.kind, 'loss');
      if (t1.kind !== 'loss') return;
      assert.equal(t1.space, Application);
      assert.deepEqual(pns(t1.lost), [1]);
      assert.equal(t1.persistentCongestion, false);
      assert.equal(d.timeout, 2 + 52.875);
      const t2 = d.onLossTimeout(54.875);
      assert.equal(t2.kind === 'loss' && pns(t2.lost).join(), '2');
      // Only pn 4 is left: PTO from its send time, 47 + max(4 * 23.5, 1) + 25
      assert.equal(d.timeout, 4 + 47 + 94 + 25);
      assert.equal(d.bytesInFlight, 1000);
    });

    it('a timer armed at time_sent + loss_delay always finds the packet lost (no floating-point spin)', () => {
      // Values where (t + d) - d < t in binary floating point: comparing time_sent with
      // now - loss_delay would leave the packet "not yet lost" at its own loss time forever.
      const d = confirmed();
      const t = 2023.79;
      d.onPacketSent(Application, pkt(0, t));
      d.onPacketSent(Application, pkt(1, t));
      d.onAckReceived(Application, [1, 1], 0, t + 21.7);
      const lossDelay = (9 / 8) * d.rtt.latest;
      assert.ok(t + lossDelay - lossDelay < t, 'precondition: the rounding case');
      assert.equal(d.timeout, t + lossDelay);
      const r = d.onLossTimeout(d.timeout);
      assert.equal(r.kind, 'loss');
      assert.deepEqual(r.kind === 'loss' && pns(r.lost), [0]);
    });

    it('a loss timer armed with one path\'s RTT may find nothing lost with another\'s (a migration in between)', () => {
      const d = confirmed();
      for (let pn = 0; pn < 5; pn++) d.onPacketSent(Application, pkt(pn, pn));
      d.onAckReceived(Application, [3, 3], 0, 50);
      // The current path changed: a fresh estimator (333 ms) makes the loss delay longer.
      const fresh = new RttEstimator();
      const r = d.onLossTimeout(d.timeout, fresh);
      assert.equal(r.kind, 'loss');
      assert.deepEqual(r.kind === 'loss' && pns(r.lost), [], 'nothing lost yet by the new loss delay');
      assert.equal(d.lossTime(Application), 1 + (9 / 8) * 333, 'rearmed with the new delay');
    });

    it('time threshold on the ACK itself when the packets are old enough', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0));
      d.onPacketSent(Application, pkt(1, 10));
      d.onAckReceived(Application, [1, 1], 0, 110); // rtt 100, loss delay 112.5
      assert.equal(d.lossTime(Application), 112.5);
      d.onPacketSent(Application, pkt(2, 200));
      const r = d.onAckReceived(Application, [2, 2], 0, 300); // loss delay still 112.5; 0 <= 187.5
      assert.deepEqual(pns(r.lost), [0]);
      assert.equal(d.timeout, INF, 'nothing left in flight');
    });
  });

  describe('probe timeout (§6.2)', () => {
    it('PTO = time of last ack-eliciting + smoothed + max(4*rttvar, 1) + max_ack_delay, doubling per expiry', () => {
      const d = confirmed();
      d.onPacketSent(Application, pkt(0, 0));
      assert.equal(d.timeout, 333 + 666 + 25);
      const t = d.onLossTimeout(1024);
      assert.deepEqual(t, { kind: 'pto', space: Application, probes: 2, antiDeadlock: false });
      assert.equal(d.ptoCount, 1);
      assert.equal(d.timeout, 2048, 'backoff applies to the last ack-eliciting send');
      d.onPacketSent(Application, pkt(1, 1024)); // probe
      assert.equal(d.timeout, 1024 + 2048);
      d.onLossTimeout(3072);
      assert.equal(d.ptoCount, 2);
      assert.equal(d.timeout, 1024 + 4096);
      const r = d.onAckReceived(Application, [1, 1], 0, 3100);
      assert.deepEqual(pns(r.newlyAcked), [1]);
      assert.equal(d.ptoCount, 0, 'an ACK resets the backoff');
    });

    it('Initial/Handshake PTOs leave out max_ack_delay; the earliest space wins', () => {
      const d = new OnePathDetector<Tok>({ isServer: true, maxAckDelay: 25 });
      d.onPacketSent(Initial, pkt(0, 10));
      d.onPacketSent(Handshake, pkt(0, 5));
      assert.equal(d.timeout, 5 + 999);
      const t = d.onLossTimeout(1004);
      assert.equal(t.kind === 'pto' && t.space, Handshake);
      assert.equal(d.hasAckElicitingInFlight(Initial), true);
    });

    it('no Application PTO before the handshake is confirmed', () => {
      const d = new OnePathDetector<Tok>({ isServer: true, maxAckDelay: 25 });
      d.onPacketSent(Application, pkt(0, 0));
      assert.equal(d.timeout, INF);
      d.onPacketSent(Handshake, pkt(0, 10));
      assert.equal(d.timeout, 10 + 999, 'Handshake armed, Application skipped');
      d.onHandshakeConfirmed(20);
      assert.equal(d.timeout, 10 + 999, 'the Handshake PTO is still earlier');
      d.discardSpace(Handshake, 30);
      assert.equal(d.timeout, 0 + 999 + 25);
    });

    it('a server blocked by the amplification limit arms no PTO', () => {
      const d = new OnePathDetector<Tok>({ isServer: true });
      d.setAmplificationBlocked(true, 0, d.rtt);
      d.onPacketSent(Initial, pkt(0, 0));
      assert.equal(d.timeout, INF);
      d.setAmplificationBlocked(false, 1500, d.rtt);
      assert.equal(d.timeout, 999, 'in the past: the connection runs onLossTimeout at once');
      assert.equal(d.onLossTimeout(1500).kind, 'pto');
    });

    it('client anti-deadlock PTO from now with nothing in flight, until the peer validated us (§6.2.2.1)', () => {
      const d = new OnePathDetector<Tok>({ isServer: false });
      d.rearm(100);
      assert.equal(d.timeout, 100 + 999);
      const t = d.onLossTimeout(1099);
      assert.deepEqual(t, { kind: 'pto', space: Initial, probes: 1, antiDeadlock: true });
      assert.equal(d.timeout, 1099 + 1998);
      d.onHandshakeKeys(1200, d.rtt);
      assert.equal(d.timeout, 1200 + 1998);
      const t2 = d.onLossTimeout(3198);
      assert.equal(t2.kind === 'pto' && t2.space, Handshake);
      // A Handshake ACK proves the server validated us: no more anti-deadlock timer.
      d.onPacketSent(Handshake, pkt(0, 3200));
      d.onAckReceived(Handshake, [0, 0], 0, 3300);
      assert.equal(d.peerCompletedAddressValidation, true);
      assert.equal(d.timeout, INF);
      assert.equal(d.ptoCount, 0);
    });

    it('a client keeps its PTO backoff on Initial ACKs until address validation (§6.2.1)', () => {
      const d = new OnePathDetector<Tok>({ isServer: false });
      d.onPacketSent(Initial, pkt(0, 0));
      d.onLossTimeout(999);
      d.onPacketSent(Initial, pkt(1, 999));
      assert.equal(d.ptoCount, 1);
      d.onAckReceived(Initial, [1, 0], 0, 1100);
      assert.equal(d.ptoCount, 1);
      // Nothing in flight, still unvalidated: anti-deadlock PTO from now, with the backoff.
      assert.equal(d.timeout, 1100 + 2 * d.rtt.pto(Initial, 0));
    });

    it('the server resets its backoff on any ACK', () => {
      const d = new OnePathDetector<Tok>({ isServer: true });
      d.onPacketSent(Initial, pkt(0, 0));
      d.onLossTimeout(999);
      d.onPacketSent(Initial, pkt(1, 999));
      d.onAckReceived(Initial, [1, 1], 0, 1100);
      assert.equal(d.ptoCount, 0);
    });
  });

  describe('discarding a space (§6.4)', () => {
    it('removes its bytes, loss time and PTO state, resets pto_count', () => {
      const d = new OnePathDetector<Tok>({ isServer: true });
      d.onPacketSent(Initial, pkt(0, 0, { size: 1200 }));
      d.onPacketSent(Initial, pkt(1, 1, { size: 1200 }));
      d.onPacketSent(Initial, pkt(2, 2, { size: 50, ackEliciting: false, inFlight: false }));
      d.onPacketSent(Handshake, pkt(0, 3, { size: 800 }));
      assert.equal(d.timeout, 1 + 999);
      d.onLossTimeout(1000);
      assert.equal(d.ptoCount, 1);
      assert.equal(d.discardSpace(Initial, 1000), 2400);
      assert.equal(d.bytesInFlight, 800);
      assert.equal(d.ptoCount, 0);
      assert.equal(d.outstanding(Initial), 0);
      assert.equal(d.lossTime(Initial), INF);
      assert.equal(d.timeout, 3 + 999);
      assert.throws(() => d.onPacketSent(Initial, pkt(3, 1001)), Error);
    });

    it('a discarded space stays empty: an ACK for it changes nothing, a second discard frees nothing, other detectors are untouched', () => {
      // Discarded spaces share one record ([perf2]: an idle connection's heap); nothing may write it.
      const a = new OnePathDetector<Tok>({ isServer: false });
      const b = new OnePathDetector<Tok>({ isServer: false });
      a.onPacketSent(Initial, pkt(0, 0, { size: 1200 }));
      b.onPacketSent(Initial, pkt(0, 0, { size: 1200 }));
      b.onPacketSent(Initial, pkt(1, 1, { size: 1200 }));
      assert.equal(a.discardSpace(Initial, 5), 1200);
      assert.equal(a.discardSpace(Initial, 6), 0, 'nothing left to free');
      const r = a.onAckReceived(Initial, [0, 0], 0, 10);
      assert.equal(r.newlyAcked.length, 0);
      assert.equal(r.rttUpdated, false);
      assert.equal(a.outstanding(Initial), 0);
      assert.equal(a.lossTime(Initial), INF);
      assert.equal(a.bytesInFlight, 0);
      // b's Initial space is its own: both packets outstanding, an ACK of pn 1 acknowledges it.
      assert.equal(b.outstanding(Initial), 2);
      assert.deepEqual(b.onAckReceived(Initial, [1, 1], 0, 20).newlyAcked.map((p) => p.pn), [1]);
      assert.equal(b.discardSpace(Initial, 21), 1200);
      assert.equal(a.outstanding(Initial), 0);
      assert.throws(() => b.onPacketSent(Initial, pkt(2, 22)), Error);
      assert.throws(() => a.onPacketSent(Initial, pkt(1, 22)), Error);
    });
  });

  describe('persistent congestion (§7.6)', () => {
    /** First RTT sample: pn 0 sent at 0, acked at 100 -> smoothed 100, rttvar 50. */
    function warmed(): OnePathDetector<Tok> {
      const d = confirmed(25);
      d.onPacketSent(Application, pkt(0, 0));
      d.onAckReceived(Application, [0, 0], 0, 100);
      return d;
    }
    // After the ACK below (latest 100 again): smoothed 100, rttvar 37.5, so the duration is
    // (100 + 4 * 37.5 + 25) * 3 = 825 ms.

    function scenario(lastLostTime: number): { pc: boolean; lost: number[]; d: OnePathDetector<Tok> } {
      const d = warmed();
      d.onPacketSent(Application, pkt(1, 200));
      d.onPacketSent(Application, pkt(2, 600));
      d.onPacketSent(Application, pkt(3, lastLostTime));
      d.onPacketSent(Application, pkt(4, 1100));
      d.onPacketSent(Application, pkt(5, 1101));
      d.onPacketSent(Application, pkt(6, 1102));
      const r = d.onAckReceived(Application, [6, 6], 0, 1202);
      assert.equal(d.rtt.persistentCongestionDuration(25), 825);
      return { pc: r.persistentCongestion, lost: pns(r.lost), d };
    }

    it('declared when the lost ack-eliciting packets span more than the duration', () => {
      const s = scenario(1025.5);
      assert.deepEqual(s.lost, [1, 2, 3]);
      assert.equal(s.pc, true);
    });

    it('not declared at exactly the duration (must exceed)', () => {
      const s = scenario(1025);
      assert.deepEqual(s.lost, [1, 2, 3]);
      assert.equal(s.pc, false);
    });

    it('not declared when a packet sent in between was acknowledged', () => {
      const d = warmed();
      d.onPacketSent(Application, pkt(1, 200));
      d.onPacketSent(Application, pkt(2, 600));
      d.onPacketSent(Application, pkt(3, 1090));
      d.onPacketSent(Application, pkt(4, 1100));
      d.onPacketSent(Application, pkt(5, 1101));
      d.onPacketSent(Application, pkt(6, 1102));
      const r = d.onAckReceived(Application, [6, 6, 2, 2], 0, 1202);
      assert.deepEqual(pns(r.lost), [1, 3]);
      assert.equal(r.persistentCongestion, false);
    });

    it('packets sent before the first RTT sample do not count', () => {
      const d = confirmed(25);
      d.onPacketSent(Application, pkt(0, 0));
      d.onPacketSent(Application, pkt(1, 50)); // before the first sample at t = 100
      d.onAckReceived(Application, [0, 0], 0, 100);
      d.onPacketSent(Application, pkt(2, 600));
      d.onPacketSent(Application, pkt(3, 1000));
      d.onPacketSent(Application, pkt(4, 1100));
      d.onPacketSent(Application, pkt(5, 1101));
      d.onPacketSent(Application, pkt(6, 1102));
      const r = d.onAckReceived(Application, [6, 6], 0, 1202);
      assert.deepEqual(pns(r.lost), [1, 2, 3]);
      assert.equal(r.persistentCongestion, false, '1000 - 600 < 825; 1000 - 50 would exceed');
    });

    it('never declared before any RTT sample', () => {
      const d = confirmed(0);
      for (let pn = 0; pn < 4; pn++) d.onPacketSent(Application, pkt(pn, pn * 2000));
      d.onPacketSent(Application, pkt(4, 8000, { ackEliciting: false }));
      const r = d.onAckReceived(Application, [4, 4], 0, 8100); // acks only a non-ack-eliciting packet
      assert.equal(r.rttUpdated, false);
      assert.deepEqual(pns(r.lost), [0, 1, 2, 3], 'by time threshold with the initial RTT');
      assert.equal(r.persistentCongestion, false, 'a 6 s span, but no RTT sample yet');
      assert.equal(d.firstRttSampleTime, INF);
    });

    it('non-ack-eliciting lost packets cannot be the endpoints', () => {
      const d = warmed();
      d.onPacketSent(Application, pkt(1, 200, { ackEliciting: false }));
      d.onPacketSent(Application, pkt(2, 600));
      d.onPacketSent(Application, pkt(3, 1090));
      d.onPacketSent(Application, pkt(4, 1100));
      d.onPacketSent(Application, pkt(5, 1101));
      d.onPacketSent(Application, pkt(6, 1102));
      const r = d.onAckReceived(Application, [6, 6], 0, 1202);
      assert.deepEqual(pns(r.lost), [1, 2, 3]);
      assert.equal(r.persistentCongestion, false);
    });

    it('the RFC 9002 §7.6.3 example shape: a run across PTO probes', () => {
      // As in the RFC: packets sent steadily, then PTO probes, every one lost until the last
      // probe is acknowledged; the lost run spans more than the duration.
      const d = confirmed(0);
      d.onPacketSent(Application, pkt(0, 0));
      d.onAckReceived(Application, [0, 0], 0, 100); // smoothed 100, rttvar 50
      // Packets 1..7 every 100 ms from t=200, then probes at 1000 and 1400, the last acked.
      for (let pn = 1; pn <= 7; pn++) d.onPacketSent(Application, pkt(pn, 100 + 100 * pn));
      d.onPacketSent(Application, pkt(8, 1000));
      d.onPacketSent(Application, pkt(9, 1400));
      const r = d.onAckReceived(Application, [9, 9], 0, 1500); // latest 100 -> rttvar 37.5
      assert.deepEqual(pns(r.lost), [1, 2, 3, 4, 5, 6, 7, 8]);
      // duration (100 + 150 + 0) * 3 = 750 < 1000 - 200
      assert.equal(r.persistentCongestion, true);
      assert.equal(d.rtt.min, 100);
    });
  });

  it('property: random ACK patterns never ack and lose the same packet; bytes in flight stay >= 0 and drain to 0', () => {
    let totalAcked = 0;
    let totalLost = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = new SeededRandom(seed);
      const d = new OnePathDetector<Tok>({ isServer: rnd.int(2) === 0, maxAckDelay: rnd.int(30) });
      if (rnd.int(2) === 0) d.onHandshakeConfirmed(0);
      const sent = new Map<number, SentPacket<Tok>>();
      const fate = new Map<number, 'acked' | 'lost'>();
      let now = 0;
      let pn = 0;
      let inFlight = 0;
      const settle = (ps: readonly SentPacket<Tok>[], what: 'acked' | 'lost'): void => {
        for (const p of ps) {
          assert.equal(fate.get(p.pn), undefined, `seed ${seed}: pn ${p.pn} ${what} after ${fate.get(p.pn)}`);
          assert.equal(sent.get(p.pn), p, `seed ${seed}: unknown packet ${p.pn}`);
          fate.set(p.pn, what);
          if (what === 'acked') totalAcked++;
          else totalLost++;
          if (p.inFlight) inFlight -= p.size;
        }
      };
      for (let step = 0; step < 400; step++) {
        now += rnd.int(30);
        const action = rnd.int(10);
        if (action < 5) {
          pn += 1 + (rnd.int(8) === 0 ? 1 : 0); // occasional skip
          const ackEliciting = rnd.int(5) !== 0;
          const p = pkt(pn, now, { size: 100 + rnd.int(1100), ackEliciting, inFlight: ackEliciting || rnd.int(2) === 0 });
          d.onPacketSent(Application, p);
          sent.set(pn, p);
          if (p.inFlight) inFlight += p.size;
        } else if (action < 9 && sent.size > 0) {
          // An ACK of a random subset of sent packet numbers, as descending ranges.
          const acked = [...sent.keys()].filter(() => rnd.int(3) === 0).sort((a, b) => b - a);
          if (acked.length === 0) continue;
          const ranges: number[] = [];
          for (const n of acked) {
            const last = ranges.length - 1;
            if (last > 0 && ranges[last]! === n + 1) ranges[last] = n;
            else ranges.push(n, n);
          }
          const r = d.onAckReceived(Application, ranges, rnd.int(20), now);
          settle(r.newlyAcked, 'acked');
          for (const p of r.lateAcked) {
            assert.equal(fate.get(p.pn), 'lost', `seed ${seed}: pn ${p.pn} late-acked but ${String(fate.get(p.pn))}`);
            assert.ok(acked.includes(p.pn));
            fate.set(p.pn, 'lateAcked' as never);
          }
          settle(r.lost, 'lost');
          for (const p of r.newlyAcked) assert.ok(acked.includes(p.pn));
        } else if (d.timeout <= now) {
          const t = d.onLossTimeout(now);
          if (t.kind === 'loss') settle(t.lost, 'lost');
        }
        assert.ok(d.bytesInFlight >= 0, `seed ${seed}: negative bytes in flight`);
        assert.equal(d.bytesInFlight, inFlight, `seed ${seed}: bytes in flight mismatch`);
      }
      // Acknowledge everything still unsettled: all bytes leave flight.
      const rest = [...sent.keys()].sort((a, b) => b - a);
      const all: number[] = [];
      for (const n of rest) all.push(n, n);
      now += 1000;
      const r = d.onAckReceived(Application, all, 0, now);
      settle(r.newlyAcked, 'acked');
      settle(r.lost, 'lost');
      assert.equal(d.bytesInFlight, 0, `seed ${seed}`);
      assert.equal(inFlight, 0, `seed ${seed}`);
      assert.equal(fate.size, sent.size, `seed ${seed}: every packet settled`);
      assert.equal(d.outstanding(Application), 0);
      if (d.peerCompletedAddressValidation) assert.equal(d.timeout, INF, `seed ${seed}`);
    }
    assert.ok(totalAcked > 1000 && totalLost > 500, `the patterns exercise both fates (${totalAcked}/${totalLost})`);
  });
});
