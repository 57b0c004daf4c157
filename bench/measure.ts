/**
 * What a measured transfer cost both ends: CPU per packet of this process (the sender) and of the
 * server child (the receiver), their busy shares and their garbage collections. Used by the bulk
 * keys (bench/run.ts), the jumbo key (bench/anchors.ts) and the bare pipelines.
 */
import type { Session } from '../src/session/session.js';
import { gcCounts, gcSince, type GcCounts } from './gc-count.js';
import { mbps, processCpuMs } from './proc.js';
import { readAll, streamUpload } from './upload.js';

/**
 * CPU per packet of both ends of a transfer: this process (the sender) and the child (the
 * receiver), over the same wall-clock span. The end whose busy share is ~1 is the bottleneck; the
 * sender's figure against the pipeline's (`details.pipeline.sender_us_per_packet`) is what the
 * protocol adds to seal, header protection and send.
 */
export interface CpuCost {
  sender_us_per_packet: number;
  receiver_us_per_packet: number | null;
  sender_busy: number;
  receiver_busy: number | null;
  /**
   * The main thread's part of each end's CPU (/proc, 10 ms ticks). The rest ran on other threads:
   * V8's concurrent marking and sweeping and its background compiler (the libuv pool has nothing
   * to do in a transfer), so `1 - share` is about what the collector cost beside its pauses.
   */
  sender_main_thread_share: number | null;
  receiver_main_thread_share: number | null;
  /** Garbage collections of each end during the run (bench/gc-count.ts). */
  sender_gc?: GcCounts;
  receiver_gc?: GcCounts;
}

/** Where the receiver's CPU time is read: a child (bench/proc.ts). */
export interface CpuSource {
  cpuMs(): number | null;
  mainThreadCpuMs(): number | null;
}

/**
 * This process: all its threads (`process.cpuUsage`, microseconds) and its main thread (/proc; its
 * thread id is the process id; null without /proc).
 */
const THIS_PROCESS = {
  cpuMs: (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  mainThreadCpuMs: (): number | null => processCpuMs(process.pid, process.pid),
};

/**
 * Starts measuring both ends' CPU; `stop` divides it by the packets sent and the span. `self` is
 * the sender (this process unless a test says otherwise).
 */
export function cpuMeter(child: CpuSource, self: { cpuMs(): number; mainThreadCpuMs(): number | null } = THIS_PROCESS): { stop(ms: number, packets: number): CpuCost } {
  const self0 = self.cpuMs();
  const selfMain0 = self.mainThreadCpuMs();
  const child0 = child.cpuMs();
  const childMain0 = child.mainThreadCpuMs();
  const delta = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : b - a);
  return {
    stop(ms: number, packets: number): CpuCost {
      const selfMs = self.cpuMs() - self0;
      const childMs = delta(child0, child.cpuMs());
      const selfMainMs = delta(selfMain0, self.mainThreadCpuMs());
      const childMainMs = delta(childMain0, child.mainThreadCpuMs());
      const r2 = (x: number): number => Math.round(x * 100) / 100;
      const share = (main: number | null, all: number | null): number | null => (main === null || all === null || all <= 0 ? null : r2(Math.min(1, main / all)));
      return {
        sender_us_per_packet: r2((selfMs * 1000) / packets),
        receiver_us_per_packet: childMs === null ? null : r2((childMs * 1000) / packets),
        sender_busy: r2(selfMs / ms),
        receiver_busy: childMs === null ? null : r2(childMs / ms),
        sender_main_thread_share: share(selfMainMs, selfMs),
        receiver_main_thread_share: share(childMainMs, childMs),
      };
    },
  };
}

/** The server child's garbage collections so far, asked on a 'G' stream (bench/child.ts). */
export async function serverGc(s: Session): Promise<GcCounts> {
  const st = await s.createBidirectionalStream();
  const w = st.writable.getWriter();
  await w.write(Uint8Array.of(0x47));
  await w.close();
  return JSON.parse(new TextDecoder().decode(await readAll(st.readable.getReader()))) as GcCounts;
}

export interface UploadOptions {
  /** The application's write size (streamUpload's; 64 KiB unless said). */
  writeSize?: number;
  /** The server reads a fresh chunk per read instead of into its own buffer. */
  defaultReader?: boolean;
}

/**
 * One measured upload of `bytes` on `s` (the caller dials and closes): its Mbit/s, the data
 * packets it took, and what it cost both ends (CPU per packet, busy shares, collections).
 */
export async function measureUpload(s: Session, bytes: number, server: CpuSource, opts: UploadOptions = {}): Promise<{ mbps: number; packets: number; cost: CpuCost }> {
  const gc0 = { sender: gcCounts(), receiver: await serverGc(s) };
  const packets0 = s.getStats().packetsSent;
  const meter = cpuMeter(server);
  const ms = await streamUpload(s, bytes, opts.writeSize ?? 64 * 1024, false, opts.defaultReader ?? false);
  const packets = s.getStats().packetsSent - packets0;
  const cost = meter.stop(ms, packets);
  cost.sender_gc = gcSince(gc0.sender, gcCounts());
  cost.receiver_gc = gcSince(gc0.receiver, await serverGc(s));
  return { mbps: mbps(bytes, ms), packets, cost };
}
