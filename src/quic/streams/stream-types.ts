/**
 * Types shared by the stream map and its users: configurable limits, the peer's stream-related
 * transport parameters, the control frames drained by the packet builder, application events,
 * and the `Stream` record (one stream's sending and receiving parts).
 */
import { DEFAULT_SEND_BUFFER } from './send-stream.js';
import type { RecvStream } from './recv-stream.js';
import type { SendStream } from './send-stream.js';
import type { Direction } from './stream-id.js';

/** Configurable limits (defaults in DEFAULT_STREAM_LIMITS). */
export interface StreamLimits {
  /** Send buffer per stream: bytes written and not yet acknowledged. Default 1 MiB. */
  sendBufferSize: number;
  /**
   * Initial stream receive window, advertised as initial_max_stream_data_*. Default 1,250,000
   * bytes, quinn's and so iroh's (100 Mbit/s over a 100 ms RTT): a message up to that size,
   * written and finished before the peer's application reads, is acknowledged in full.
   */
  initialStreamWindow: number;
  /** Auto-tuning ceiling of a stream window. Default 16 MiB. */
  maxStreamWindow: number;
  /**
   * Initial connection receive window, advertised as initial_max_data. Default 5,000,000 bytes:
   * four streams' initial windows (iroh advertises no connection limit at all; ours bounds what
   * a peer can make us buffer for an application that does not read).
   */
  initialConnectionWindow: number;
  /** Auto-tuning ceiling of the connection window. Default 24 MiB (1.5x the stream ceiling). */
  maxConnectionWindow: number;
  /** Peer-initiated bidirectional streams open at once (initial_max_streams_bidi). Default 100, as iroh. */
  maxConcurrentBidiStreams: number;
  /** Peer-initiated unidirectional streams open at once (initial_max_streams_uni). Default 100. */
  maxConcurrentUniStreams: number;
}

export const DEFAULT_STREAM_LIMITS: Readonly<StreamLimits> = Object.freeze({
  sendBufferSize: DEFAULT_SEND_BUFFER,
  initialStreamWindow: 1_250_000,
  maxStreamWindow: 16 * 1024 * 1024,
  initialConnectionWindow: 5_000_000,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxConcurrentBidiStreams: 100,
  maxConcurrentUniStreams: 100,
});

/** The peer's transport parameters that concern streams (RFC 9000 §18.2), saturated numbers. */
export interface PeerStreamParams {
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
}

/** A control frame to put in a packet (values are current at poll time). */
export type StreamControlFrame =
  | { kind: 'max_data'; maximum: number }
  | { kind: 'data_blocked'; limit: number }
  | { kind: 'max_stream_data'; streamId: number; maximum: number }
  | { kind: 'stream_data_blocked'; streamId: number; limit: number }
  | { kind: 'reset_stream'; streamId: number; code: number | bigint; finalSize: number }
  | { kind: 'stop_sending'; streamId: number; code: number | bigint }
  | { kind: 'max_streams'; direction: Direction; maximum: number }
  | { kind: 'streams_blocked'; direction: Direction; limit: number };

/** Notifications for the application layer (deduplicated per stream until polled). */
export type StreamEvent =
  | { type: 'incoming'; id: number; direction: Direction }
  | { type: 'readable'; id: number }
  | { type: 'writable'; id: number }
  | { type: 'stopped'; id: number; code: number | bigint }
  | { type: 'streamClosed'; id: number }
  /** The sending part is terminal: all data and the FIN (or the reset) acknowledged. */
  | { type: 'sendDone'; id: number }
  | { type: 'streams-available'; direction: Direction };

export type OpenResult = { kind: 'opened'; stream: Stream } | { kind: 'blocked'; limit: number };

/** One stream: its sending and/or receiving part (null where the direction does not exist). */
export class Stream {
  readonly id: number;
  readonly send: SendStream | null;
  readonly recv: RecvStream | null;
  /** Scheduling priority (higher first); change it with StreamMap.setPriority. */
  priority = 0;
  /** @internal Scheduler bookkeeping. */
  queuedAt: number | null = null;
  /** @internal */
  ctlQueued = false;
  /** @internal */
  connBlocked = false;
  /** @internal */
  readableQueued = false;
  /** @internal */
  writableQueued = false;
  /** True once the stream was removed from the map (fully closed). */
  removed = false;

  constructor(id: number, send: SendStream | null, recv: RecvStream | null) {
    this.id = id;
    this.send = send;
    this.recv = recv;
  }
}
