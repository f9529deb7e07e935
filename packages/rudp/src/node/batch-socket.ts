/**
 * `DatagramSocket` on rudp's batched UDP addon (`udp-batch.ts`): a readable
 * socket is drained 32 datagrams per system call and JavaScript gets each
 * batch in one call (each datagram in a buffer of its own); queued sends leave in one `sendmmsg` on `flush()`.
 * node:dgram spends about 2.8 µs of user CPU on every datagram it hands
 * over (a 64 KiB allocation cut to size, a Buffer, an address object, a
 * callback from C++), and a system call on every datagram it sends.
 *
 * Addresses stay numbers as long as they can: a sender's `PeerAddress`
 * string is made once per sender (kept in a bounded map keyed by its
 * address and port); an answer to the last sender reuses the bytes it came
 * from, and a send to another is parsed once (kept in a bounded map too).
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { type PeerAddress, formatAddress, parseAddress } from '../core/sans-io.js';
import { type DatagramSocket, type SocketAddress, systemError } from './datagram-socket.js';
import { keepError, type ListenerErrors, rethrowErrors } from './listener-errors.js';
import { RECV_BUFFER_BYTES } from './udp-socket.js';
import { META_WORDS, RECEIVE_SLOTS, ROUND_DATAGRAMS, type UdpBatch, type UdpBatchHandle } from './udp-batch.js';

/** Most senders (and destinations) whose address is kept: past it the maps start over. */
const ADDRESS_CACHE_LIMIT = 65_536;
/** Bytes and datagrams one flush may carry; a fuller queue is flushed first. */
const SEND_BYTES = 256 * 1024;
const SEND_DATAGRAMS = 256;

/** Where the addon writes each received batch's offsets, lengths and senders: one per thread, read before the next batch. */
const RECEIVED = new Int32Array(RECEIVE_SLOTS * META_WORDS);
const RECEIVED_BYTES = new Uint8Array(RECEIVED.buffer);

/**
 * The send queue, one per thread and shared by its sockets (a flush empties
 * it before another socket queues): a socket costs no buffer of its own,
 * which matters to a process with thousands of client connections.
 */
const QUEUE_BYTES = new Uint8Array(SEND_BYTES);
const QUEUE_META = new Int32Array(SEND_DATAGRAMS * META_WORDS);
let queueOwner: BatchSocket | undefined;
let queued = 0;
let queuedBytes = 0;

/** The one sender seen so far from an IPv4 address: its port and `PeerAddress`. */
interface OnePort {
  readonly port: number;
  readonly from: PeerAddress;
}

/** A destination as the addon takes it: port, family (0: the connected peer) and four address words. */
type Destination = Int32Array;

/** A `DatagramSocket` on the batched addon. */
export class BatchSocket implements DatagramSocket {
  onDatagram: (data: Uint8Array, from: PeerAddress) => void = () => {};
  onBurstEnd: () => void = () => {};
  onError: (e: Error) => void = () => {};
  /** One receive round a turn, stopped at this many datagrams. */
  readonly datagramsPerTurn = ROUND_DATAGRAMS;
  /**
   * The native socket, made by `bind` (as node:dgram's descriptor): a socket
   * never bound holds no descriptor, and a failure to make one (`EMFILE`)
   * rejects `bind`, as node:dgram's does, instead of throwing from the
   * constructor (which `connect`'s next-address timer could not catch).
   */
  private handle: UdpBatchHandle | undefined;
  private closed = false;
  private refd = true;
  private notSent = 0;
  private connectedPeer: PeerAddress | undefined;
  /**
   * IPv4 senders by address word, then port (two maps of small integers: one
   * key of both would be a heap number per lookup); IPv6 senders by their
   * words and port joined. Destinations by `PeerAddress`, made at the first
   * send to one that is not the last sender. An address seen from one port
   * keeps that port and its sender in a record rather than a map of its own.
   * A datagram from each of many addresses (a spoofed flood needs no
   * handshake) filled these maps to 37 MiB of heap at their bound, 603 bytes
   * a sender, of which a map of ports took some 260 and a destination made
   * as the datagram came some 180 (attack round 14): about 200 now.
   */
  private readonly senders4 = new Map<number, OnePort | Map<number, PeerAddress>>();
  private readonly senders6 = new Map<string, PeerAddress>();
  private sendersCount = 0;
  private readonly destinations = new Map<PeerAddress, Destination>();
  /** The last sender (port, address words, family word): one peer sends runs of datagrams. */
  private lastWords = new Int32Array(6);
  private lastFrom: PeerAddress | undefined;

  constructor(
    private readonly addon: UdpBatch,
    readonly family: 4 | 6,
    /** Whether the kernel's UDP segmentation offload (GSO, GRO) may be used. */
    private readonly offload = true,
  ) {}

  async bind(port: number, host: string): Promise<void> {
    if (this.closed || this.handle !== undefined) throw systemError(-EINVAL, 'EINVAL', 'bind', host, port);
    const handle = this.addon.open(this.family, this.onMessages, this.onFailure, RECEIVED, this.offload);
    if (typeof handle === 'number') throw systemError(handle, errorName(handle), 'socket');
    this.handle = handle;
    const r = this.addon.bind(handle, host, port, RECV_BUFFER_BYTES);
    if (r < 0) {
      // Its descriptor goes now, not when the caller remembers to close.
      this.addon.close(handle);
      this.handle = undefined;
      throw systemError(r, errorName(r), 'bind', host, port);
    }
    this.addon.ref(handle, this.refd);
  }

  async connect(port: number, host: string): Promise<void> {
    const r = this.handle !== undefined && !this.closed ? this.addon.connect(this.handle, host, port) : -EBADF;
    if (r < 0) throw systemError(r, errorName(r), 'connect', host, port);
    this.connectedPeer = formatAddress(host, port);
  }

  address(): SocketAddress {
    // As node:dgram's, for a socket not bound or closed.
    if (this.handle === undefined || this.closed) throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    const a = this.addon.address(this.handle);
    if (typeof a === 'number') throw systemError(a, errorName(a), 'getsockname');
    return { address: a[0], family: this.family === 6 ? 'IPv6' : 'IPv4', port: a[1] };
  }

  send(to: PeerAddress, data: Uint8Array): void {
    if (this.closed || this.handle === undefined) return;
    // The last sender's words are at hand (`lastWords`): most sends answer it (the ACK of what just
    // arrived), and a server with 10,000 peers would otherwise look their string up in `destinations`.
    const toLast = to === this.lastFrom && to !== this.connectedPeer;
    const dest = to === this.connectedPeer || toLast ? undefined : this.destination(to);
    if (dest === null) return;
    if (queueOwner !== this && queueOwner !== undefined) queueOwner.flush();
    if (queued === SEND_DATAGRAMS || queuedBytes + data.length > SEND_BYTES) this.flush();
    if (data.length > SEND_BYTES) return;
    queueOwner = this;
    const m = queued * META_WORDS;
    QUEUE_BYTES.set(data, queuedBytes);
    QUEUE_META[m] = queuedBytes;
    QUEUE_META[m + 1] = data.length;
    if (toLast) {
      const last = this.lastWords;
      QUEUE_META[m + 2] = last[0] as number;
      QUEUE_META[m + 3] = last[5] as number;
      QUEUE_META[m + 4] = last[1] as number;
      QUEUE_META[m + 5] = last[2] as number;
      QUEUE_META[m + 6] = last[3] as number;
      QUEUE_META[m + 7] = last[4] as number;
    } else if (dest === undefined) QUEUE_META[m + 3] = 0;
    else QUEUE_META.set(dest, m + 2);
    queued++;
    queuedBytes += data.length;
  }

  flush(): void {
    if (queueOwner !== this) return;
    const count = queued;
    queueOwner = undefined;
    queued = 0;
    queuedBytes = 0;
    if (count === 0 || this.closed || this.handle === undefined) return;
    const r = this.addon.send(this.handle, QUEUE_BYTES, QUEUE_META, count);
    // Lost datagrams (a full buffer, a probe over the interface's MTU) are loss recovery's, and counted;
    // an error is about the peer (how many left with it is not told).
    if (r < 0) this.onError(systemError(r, errorName(r), 'send'));
    else this.notSent += count - r;
  }

  /** What this socket uses of the kernel's UDP offloads (`UDP_GSO`, `UDP_GRO` bits); 0 before bind. */
  get offloads(): number {
    return this.handle === undefined || this.closed ? 0 : this.addon.offloads(this.handle);
  }

  get datagramsNotSent(): number {
    return this.notSent;
  }

  setRef(on: boolean): void {
    this.refd = on;
    if (!this.closed && this.handle !== undefined) this.addon.ref(this.handle, on);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (queueOwner === this) this.flush();
    this.closed = true;
    if (this.handle !== undefined) this.addon.close(this.handle);
  }

  /** One batch from the addon: each datagram in a buffer of its own (an argument each), its sender in `RECEIVED`. */
  private readonly onMessages = (...datagrams: ArrayBuffer[]): void => {
    const count = datagrams.length;
    // A throw (a bug an application survives with an uncaughtException handler) is rethrown once the
    // batch is handed over: it must not take the rest of the batch, up to 31 datagrams, with it.
    let errors: ListenerErrors;
    for (let i = 0; i < count && !this.closed; i++) {
      try {
        this.onDatagram(new Uint8Array(datagrams[i] as ArrayBuffer), this.sender(i * META_WORDS));
      } catch (error) {
        errors = keepError(errors, error);
      }
    }
    if (!this.closed) this.onBurstEnd();
    rethrowErrors(errors);
  };

  private readonly onFailure = (errno: number, syscall: string): void => {
    if (!this.closed) this.onError(systemError(errno, errorName(errno), syscall));
  };

  /** The `PeerAddress` of the datagram whose metadata starts at word `m` of `RECEIVED`. */
  private sender(m: number): PeerAddress {
    const last = this.lastWords;
    const port = RECEIVED[m + 2] as number;
    const w0 = RECEIVED[m + 4] as number;
    // 6, or 6 with a link-local address's zone: the zone is part of the address.
    const familyWord = RECEIVED[m + 3] as number;
    const six = familyWord !== 4;
    if (
      this.lastFrom !== undefined &&
      last[0] === port &&
      last[1] === w0 &&
      (!six || (last[2] === RECEIVED[m + 5] && last[3] === RECEIVED[m + 6] && last[4] === RECEIVED[m + 7] && last[5] === familyWord))
    )
      return this.lastFrom;
    const key6 = six ? `${w0},${RECEIVED[m + 5]},${RECEIVED[m + 6]},${RECEIVED[m + 7]},${port},${familyWord}` : '';
    const ports = six ? undefined : this.senders4.get(w0);
    let from = six ? this.senders6.get(key6) : ports === undefined ? undefined : ports instanceof Map ? ports.get(port) : ports.port === port ? ports.from : undefined;
    if (from === undefined) {
      const b = (m + 4) * 4;
      const host = six
        ? (this.addon.ntop(familyWord, RECEIVED, m + 4) ?? '::')
        : `${RECEIVED_BYTES[b]}.${RECEIVED_BYTES[b + 1]}.${RECEIVED_BYTES[b + 2]}.${RECEIVED_BYTES[b + 3]}`;
      from = formatAddress(host, port);
      if (this.sendersCount >= ADDRESS_CACHE_LIMIT) {
        this.senders4.clear();
        this.senders6.clear();
        this.sendersCount = 0;
      }
      this.sendersCount++;
      if (six) this.senders6.set(key6, from);
      else {
        const forAddress = this.senders4.get(w0);
        if (forAddress === undefined) this.senders4.set(w0, { port, from });
        else if (forAddress instanceof Map) forAddress.set(port, from);
        else
          this.senders4.set(
            w0,
            new Map([
              [forAddress.port, forAddress.from],
              [port, from],
            ]),
          );
      }
      // Its destination is made when something is sent to it while it is not the last sender (`destination`):
      // made here, a sender never answered (a datagram of garbage) kept 180 bytes more.
    }
    last[0] = port;
    last[1] = w0;
    last[2] = RECEIVED[m + 5] as number;
    last[3] = RECEIVED[m + 6] as number;
    last[4] = RECEIVED[m + 7] as number;
    last[5] = familyWord;
    this.lastFrom = from;
    return from;
  }

  /** `to` as the addon takes it; `null` if it is not an IP literal and port of this socket's family. */
  private destination(to: PeerAddress): Destination | null {
    const known = this.destinations.get(to);
    if (known !== undefined) return known;
    const parsed = parseAddress(to);
    if (parsed === undefined) return null;
    const dest = new Int32Array(6);
    const familyWord = this.addon.pton(this.family, parsed.host, dest, 2);
    if (familyWord === false) return null;
    dest[0] = parsed.port;
    dest[1] = familyWord;
    if (this.destinations.size >= ADDRESS_CACHE_LIMIT) this.destinations.clear();
    this.destinations.set(to, dest);
    return dest;
  }
}

const { EINVAL, EBADF } = constants.errno;

/** Node's name for a negative errno (`ECONNREFUSED`, …). */
function errorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return 'EINVAL';
  }
}
