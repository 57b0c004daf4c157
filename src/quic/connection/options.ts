import type { Random } from '../../tls/random.js';
import type { TransportOptions } from '../transport-config.js';
import type { ResetTokenFn } from './cids.js';
import type { ConnectionTlsOptions } from './handshake.js';
import type { QlogSink } from './qlog.js';

/** How a connection is created: the client dials, the server answers a client's first Initial. */

export interface ClientConnectionOptions {
  readonly role: 'client';
  readonly tls: ConnectionTlsOptions;
  readonly transport?: TransportOptions;
  readonly random: Random;
  readonly resetToken: ResetTokenFn;
  /** Length of the random first Destination Connection ID (8..20, default 16). */
  readonly initialDcidLength?: number;
  /** A NEW_TOKEN token from an earlier connection to this server (RFC 9000 §8.1.3). */
  readonly token?: Uint8Array;
  /** The server's address ("ip:port", opaque): datagrams from any other are discarded (RFC 9000 §9). */
  readonly remoteAddress?: string;
  /**
   * Other addresses of the same server (a dial with several: direct addresses, relay paths). Each
   * gets a copy of every datagram until the server is first heard from one of them, which becomes
   * the path (the first to answer wins); datagrams from the others are discarded from then on.
   */
  readonly alternateAddresses?: readonly string[];
  /** qlog tracing from the start (or later with `setQlog`). */
  readonly qlog?: QlogSink;
}

export interface ServerConnectionOptions {
  readonly role: 'server';
  readonly tls: ConnectionTlsOptions;
  readonly transport?: TransportOptions;
  readonly random: Random;
  readonly resetToken: ResetTokenFn;
  /** The Destination Connection ID of the client's Initial we are answering (Initial keys come from it). */
  readonly initialDcid: Uint8Array;
  /** The client's Source Connection ID. */
  readonly clientScid: Uint8Array;
  /** After a Retry: the client's very first DCID (original_destination_connection_id) and our Retry SCID. */
  readonly retry?: { readonly originalDcid: Uint8Array; readonly retryScid: Uint8Array };
  /** The client's address is validated (a valid Retry or NEW_TOKEN token): no amplification limit. */
  readonly addressValidated?: boolean;
  /** The client's address ("ip:port", opaque), as the datagrams to `handleDatagram` name it. */
  readonly remoteAddress?: string;
  /** qlog tracing from the start (or later with `setQlog`). */
  readonly qlog?: QlogSink;
}

export type ConnectionOptions = ClientConnectionOptions | ServerConnectionOptions;
