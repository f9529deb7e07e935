import { createRequire } from 'node:module';

/** The parts of udx-native's socket the bench uses (the package ships no typings). */
export interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { readonly port: number; readonly host: string };
  /** Sends one raw datagram (not part of a stream); false if it could not be queued. */
  trySend(data: Uint8Array, port: number, host: string): boolean;
  on(event: 'message', listener: (msg: Buffer, from: { readonly port: number; readonly host: string }) => void): unknown;
  off(event: 'message', listener: (msg: Buffer, from: { readonly port: number; readonly host: string }) => void): unknown;
  close(): Promise<void>;
}

/** The parts of udx-native's stream (a streamx Duplex) the bench uses. */
export interface UdxStream {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  write(chunk: Uint8Array): boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  destroy(): void;
  /** Datagrams this stream sent, retransmissions included. */
  readonly packetsTransmitted: number;
  /** Datagrams this stream resent. */
  readonly retransmits: number;
}

/** One udx-native instance (one libuv-backed UDP stack). */
export interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

/** `new UDX()`. */
export type UdxConstructor = new () => Udx;

/** udx-native's constructor (prebuilt binary from its registry package), or why it cannot be loaded. */
export function loadUdx(): UdxConstructor | string {
  try {
    return createRequire(import.meta.url)('udx-native') as UdxConstructor;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Splits a byte stream back into the bench's payloads (each carries its
 * length at bytes 4–7, see `makePayload`), so stream transports (udx-native,
 * TCP) feed the same integrity checks as message transports.
 */
export class PayloadDeframer {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly onPayload: (payload: Uint8Array) => void) {}

  /** Takes the next bytes of the stream. */
  push(chunk: Uint8Array): void {
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    let offset = 0;
    while (this.buffered.length - offset >= 8) {
      const size = this.buffered.readUInt32BE(offset + 4);
      // A length below the header can only come from corrupted bytes: hand them on so the integrity check reports them.
      const take = Math.max(size, 8);
      if (this.buffered.length - offset < take) break;
      this.onPayload(this.buffered.subarray(offset, offset + take));
      offset += take;
    }
    this.buffered = this.buffered.subarray(offset);
  }
}
