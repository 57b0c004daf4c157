import assert from 'node:assert/strict';
import { cpuMeter, type CpuSource } from '../../../bench/measure.js';
import { processCpuMs } from '../../../bench/proc.js';

/** Burns ~`ms` of CPU on this (the main) thread. */
function burn(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

/**
 * bench/measure.ts: what a measured transfer cost both ends, and how much of it ran on each end's
 * main thread (the rest is V8's background threads: concurrent marking and sweeping, the
 * optimizing compiler).
 */
describe('bench measure', () => {
  it('divides both ends\' CPU by the packets and the span, and gives each end\'s main-thread share', () => {
    // Scripted ends: the receiver used 50 ms of CPU over the span, 30 of them on its main thread;
    // the sender 80 ms, 72 on its main thread.
    const readings = { all: [100, 150], main: [80, 110], selfAll: [1000, 1080], selfMain: [900, 972] };
    const child: CpuSource = { cpuMs: () => readings.all.shift() ?? null, mainThreadCpuMs: () => readings.main.shift() ?? null };
    const self = { cpuMs: () => readings.selfAll.shift() ?? 0, mainThreadCpuMs: () => readings.selfMain.shift() ?? null };
    const c = cpuMeter(child, self).stop(100, 1000);
    assert.equal(c.receiver_us_per_packet, 50, '50 ms over 1000 packets');
    assert.equal(c.receiver_busy, 0.5, '50 ms of CPU in a 100 ms span');
    assert.equal(c.receiver_main_thread_share, 0.6);
    assert.equal(c.sender_us_per_packet, 80);
    assert.equal(c.sender_busy, 0.8);
    assert.equal(c.sender_main_thread_share, 0.9);
  });

  it('measures this process by default: a burn on the main thread shows in both of its figures', () => {
    const child: CpuSource = { cpuMs: () => 0, mainThreadCpuMs: () => 0 };
    const meter = cpuMeter(child);
    burn(100);
    const c = meter.stop(100, 1000);
    assert.ok(c.sender_us_per_packet >= 80, `sender ${c.sender_us_per_packet} us/packet`);
    // /proc counts the main thread in 10 ms ticks, and V8's threads may have run meanwhile.
    assert.ok(c.sender_main_thread_share !== null && c.sender_main_thread_share > 0.3 && c.sender_main_thread_share <= 1, String(c.sender_main_thread_share));
  });

  it('leaves a figure null where /proc cannot tell', () => {
    const child: CpuSource = { cpuMs: () => null, mainThreadCpuMs: () => null };
    const c = cpuMeter(child).stop(10, 10);
    assert.equal(c.receiver_us_per_packet, null);
    assert.equal(c.receiver_busy, null);
    assert.equal(c.receiver_main_thread_share, null);
  });

  it('reads one thread of a process from /proc: the main thread is part of the whole, a missing one is null', () => {
    burn(30);
    const all = processCpuMs(process.pid);
    const main = processCpuMs(process.pid, process.pid);
    assert.ok(all !== null && main !== null, 'this machine has /proc');
    assert.ok(main > 0 && main <= all, `main ${main} of ${all}`);
    assert.equal(processCpuMs(process.pid, 2 ** 22 + 7), null, 'no such thread');
    assert.equal(processCpuMs(undefined), null);
  });
});
