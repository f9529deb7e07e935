/**
 * `DatagramSocket` on `node:dgram`: one JavaScript call per datagram in, one
 * system call per datagram out. Used where rudp's batched addon is not
 * built (not Linux, no compiler), for hosts given by name, and when asked
 * for (`socketBatching: false`).
 */
import type dgram from 'node:dgram';
import { type PeerAddress, formatAddress, parseAddress } from '../core/sans-io.js';
import type { DatagramSocket, SocketAddress } from './datagram-socket.js';
import { createUdpSocket } from './udp-socket.js';

/** Most destinations whose parsed address is kept. */
const ADDRESS_CACHE_LIMIT = 10_000;

/** A `node:dgram` socket as a `DatagramSocket`. */
export class DgramSocket implements DatagramSocket {
  onDatagram: (data: Uint8Array, from: PeerAddress) => void = () => {};
  onBurstEnd: () => void = () => {};
  onError: (e: Error) => void = () => {};
  /** libuv reads a UDP socket 32 datagrams at most per poll phase (`uv__udp_recvmsg`), then lets the loop go on. */
  readonly datagramsPerTurn = 32;
  private readonly socket: dgram.Socket;
  private connectedPeer: PeerAddress | undefined;
  private readonly addressCache = new Map<PeerAddress, { host: string; port: number }>();
  /** The last sender's host, port and formatted address: one peer sends runs of datagrams. */
  private lastFromHost = '';
  private lastFromPort = -1;
  private lastFrom: PeerAddress = '';
  private burstEnd: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(readonly family: 4 | 6) {
    this.socket = createUdpSocket(family === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => {
      if (this.closed) return;
      this.onDatagram(msg, this.fromAddress(rinfo.address, rinfo.port));
      // libuv hands over a burst per poll, one callback each: the burst ends with this event-loop turn.
      this.burstEnd ??= setImmediate(this.endBurst);
    });
    this.socket.on('error', (e) => this.onError(e));
  }

  private readonly endBurst = (): void => {
    this.burstEnd = undefined;
    if (!this.closed) this.onBurstEnd();
  };

  bind(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, host, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
  }

  connect(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      // node:dgram hands a failed connect (EINVAL for a zone naming no interface) to the callback, not to
      // 'error': taken for success, the socket stayed unconnected and its first send threw
      // ERR_SOCKET_BAD_PORT out of the pump, an uncaught exception (attack round 31).
      this.socket.connect(port, host, (err?: Error) => {
        this.socket.off('error', reject);
        if (err) {
          reject(err);
          return;
        }
        this.connectedPeer = formatAddress(host, port);
        resolve();
      });
    });
  }

  address(): SocketAddress {
    const a = this.socket.address();
    return { address: a.address, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4', port: a.port };
  }

  /**
   * Sends at once, without a callback: Node answers the callback of every
   * send that completes at once (nearly all UDP sends) with a
   * `process.nextTick`, a tick per datagram. A send that fails is a lost
   * datagram, which loss recovery handles like any other: `EMSGSIZE` for a
   * path MTU probe larger than the interface allows is a lost probe.
   */
  send(to: PeerAddress, data: Uint8Array): void {
    if (to === this.connectedPeer) {
      this.socket.send(data);
      return;
    }
    let addr = this.addressCache.get(to);
    if (!addr) {
      addr = parseAddress(to);
      if (!addr) return;
      if (this.addressCache.size > ADDRESS_CACHE_LIMIT) this.addressCache.clear();
      this.addressCache.set(to, addr);
    }
    this.socket.send(data, addr.port, addr.host);
  }

  flush(): void {
    // Every send has left already.
  }

  readonly datagramsNotSent = 0;

  setRef(on: boolean): void {
    if (on) this.socket.ref();
    else this.socket.unref();
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.burstEnd) clearImmediate(this.burstEnd);
    this.burstEnd = undefined;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        // Never bound, or closed already (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing is left to close.
        resolve();
      }
    });
  }

  /** `formatAddress(host, port)`, without building (and later flattening) a new string per datagram. */
  private fromAddress(host: string, port: number): PeerAddress {
    if (port !== this.lastFromPort || host !== this.lastFromHost) {
      this.lastFromHost = host;
      this.lastFromPort = port;
      this.lastFrom = formatAddress(host, port);
    }
    return this.lastFrom;
  }
}
