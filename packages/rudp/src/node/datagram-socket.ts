/**
 * What the adapter needs of a UDP socket. Two implement it: `BatchSocket`
 * (rudp's native addon, datagrams moved in batches) where it is built, and
 * `DgramSocket` (`node:dgram`) everywhere.
 */
import type { PeerAddress } from '../core/sans-io.js';

/** A bound UDP socket's address, as `dgram.Socket.address()` gives it. */
export interface SocketAddress {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/** A UDP socket that hands over datagrams in bursts and sends what is queued on `flush()`. */
export interface DatagramSocket {
  /** Each datagram received, with its sender; the bytes are the receiver's to keep and change. */
  onDatagram: (data: Uint8Array, from: PeerAddress) => void;
  /** After the datagrams of one burst were handed over: the moment to answer them all at once. */
  onBurstEnd: () => void;
  /**
   * Most datagrams the socket hands over in one event-loop turn: a turn that
   * hands over fewer read it empty, one that hands over this many may have
   * left more in it (read on the next turns).
   */
  readonly datagramsPerTurn: number;
  /** A socket error (an ICMP error reported on a connected socket arrives as `ECONNREFUSED`). */
  onError: (e: Error) => void;
  /** Binds to an IP literal of the socket's family (or, for `node:dgram`, a name). Rejects with a system error (`EADDRINUSE`, …). */
  bind(port: number, host: string): Promise<void>;
  /** Connects to one peer: the kernel filters everyone else, and sends to `formatAddress(host, port)` need no address. */
  connect(port: number, host: string): Promise<void>;
  /** The bound address. */
  address(): SocketAddress;
  /** Queues a datagram to `to` (copied or sent at once); it leaves by the next `flush()` at the latest. */
  send(to: PeerAddress, data: Uint8Array): void;
  /** Sends what is queued. */
  flush(): void;
  /**
   * Datagrams this socket dropped on their way out: the kernel had no room
   * (`EAGAIN`, `ENOBUFS`) or refused their size (`EMSGSIZE`, a path MTU
   * probe). Loss recovery resends what mattered. `node:dgram` queues in libuv
   * when the kernel has no room, and drops an oversized datagram without a
   * word (a send without a callback): its count stays 0.
   */
  readonly datagramsNotSent: number;
  /** Whether the socket keeps the process alive. */
  setRef(on: boolean): void;
  /** Closes the socket: nothing is handed over after this. */
  close(): Promise<void>;
}

/** A system error as Node makes them (`code`, `errno`, `syscall`; the address when there is one, and the port unless 0, as Node leaves it out). */
export function systemError(errno: number, code: string, syscall: string, address?: string, port?: number): NodeJS.ErrnoException {
  const hasPort = port !== undefined && port > 0;
  const where = address !== undefined ? ` ${address}${hasPort ? `:${port}` : ''}` : '';
  return Object.assign(new Error(`${syscall} ${code}${where}`), { errno, code, syscall, ...(address !== undefined ? { address } : {}), ...(hasPort ? { port } : {}) });
}
