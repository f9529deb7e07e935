import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UdxConstructor } from '../peers/udx-native.js';

type RudpApi = typeof import('rudpx');

/**
 * Time every sender runs before counting starts. Without it a short run
 * measures JIT warm-up and the congestion controller's start, not the
 * steady rate.
 */
export const UDP_WARMUP_MS = 300;

/** What one measurement window saw. */
export interface Rate {
  readonly messagesPerSec: number;
  /** Datagrams the sender put on the wire per second; `NaN` when not countable. */
  readonly datagramsPerSec: number;
  /** Process CPU (user + system) over the window, s. */
  readonly cpuSeconds: number;
  /** Payload bytes delivered in the window. */
  readonly bytes: number;
}

/** Counters a measurement reads at the start and end of its window. */
interface Counters {
  readonly messages: () => number;
  readonly datagrams: () => number;
}

/** Counts over `durationMs` after the warm-up. */
async function window(size: number, counters: Counters, durationMs: number): Promise<Rate> {
  await sleep(UDP_WARMUP_MS);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const m0 = counters.messages();
  const d0 = counters.datagrams();
  await sleep(durationMs);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const messages = counters.messages() - m0;
  return {
    messagesPerSec: messages / seconds,
    datagramsPerSec: (counters.datagrams() - d0) / seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    bytes: messages * size,
  };
}

/**
 * Raw dgram windows tried (datagrams unreceived at most); the better result
 * counts, so the baseline is the best raw dgram managed here. Large
 * datagrams get small windows, or they overflow the receive buffer.
 */
export function rawWindows(size: number): readonly number[] {
  return size > 8192 ? [2, 4] : [32, 128];
}

/**
 * Raw dgram with ideal flow control: sender and receiver share a counter in
 * this process, so the sender never has more than `win` datagrams
 * unreceived. Datagrams that never arrive are written off after 5 ms without
 * progress so a drop cannot stall the sender.
 */
export async function rawThroughput(size: number, durationMs: number, win: number): Promise<Rate> {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const port = rx.address().port;
  const msg = Buffer.alloc(size, 7);
  let sent = 0;
  let received = 0;
  let writtenOff = 0;
  let stop = false;
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    while (!stop && sent - received - writtenOff < win) {
      sent++;
      tx.send(msg, port, '127.0.0.1');
    }
  };
  rx.on('message', () => {
    received++;
    if (!scheduled && sent - received - writtenOff < win / 2) {
      scheduled = true;
      setImmediate(pump);
    }
  });
  let lastReceived = -1;
  const watchdog = setInterval(() => {
    if (received === lastReceived) {
      writtenOff = sent - received;
      pump();
    }
    lastReceived = received;
  }, 5);
  pump();
  const rate = await window(size, { messages: () => received, datagrams: () => sent }, durationMs);
  stop = true;
  clearInterval(watchdog);
  tx.close();
  rx.close();
  return rate;
}

/** How a rudp run protects and moves its packets: the defaults (encrypted on the fastest cipher library, batched sockets where built), `plaintext`, another provider, or `node:dgram` sockets. */
export interface RudpSecurity {
  readonly plaintext?: boolean;
  readonly crypto?: RudpApi['nodeCryptoProvider'];
  readonly socketBatching?: boolean;
}

/**
 * One rudp connection through its Node API, both ends with `security`,
 * written as rudp's README shows a writer that does not wait for each
 * acknowledgement: `write()` until it returns false, then wait for `'drain'`
 * (the connection's default high-water mark, 1 MiB unacknowledged).
 */
export async function rudpThroughput(api: RudpApi, size: number, durationMs: number, security: RudpSecurity = {}): Promise<Rate> {
  const server = await api.listen({ port: 0, ...security });
  let received = 0;
  server.on('connection', (c) => c.on('message', () => received++));
  const client = await api.connect({ port: server.address().port, ...security });
  const msg = new Uint8Array(size).fill(7);
  let stop = false;
  const pump = (): void => {
    while (!stop && client.write(msg)) {
      // keep writing until the connection asks us to wait
    }
  };
  client.on('drain', pump);
  pump();
  const rate = await window(size, { messages: () => received, datagrams: () => client.stats().packetsSent }, durationMs);
  stop = true;
  client.destroy();
  await server.close();
  return rate;
}

/** A writable byte stream and the counter of bytes its peer received. */
export interface StreamPair {
  readonly writer: { write(chunk: Uint8Array): boolean; on(event: 'drain', listener: () => void): unknown };
  readonly receivedBytes: () => number;
  readonly datagrams: () => number;
  close(): Promise<void>;
}

/**
 * Writes `size`-byte buffers as stream users do: `write()` until it returns
 * false, then wait for `drain`. Messages delivered = bytes received ÷ size.
 */
async function streamThroughput(pair: StreamPair, size: number, durationMs: number): Promise<Rate> {
  const msg = Buffer.alloc(size, 7);
  let stop = false;
  const pump = (): void => {
    while (!stop && pair.writer.write(msg)) {
      // keep writing until the stream asks us to wait
    }
  };
  pair.writer.on('drain', pump);
  pump();
  const rate = await window(size, { messages: () => Math.floor(pair.receivedBytes() / size), datagrams: pair.datagrams }, durationMs);
  stop = true;
  await pair.close();
  return rate;
}

/**
 * One rudp connection used as a byte stream, as udx-native and TCP are:
 * `stream().write()` of `size`-byte chunks until it returns false, then
 * `'drain'`; the receiver counts the bytes its `stream()` reads.
 */
export async function rudpStreamThroughput(api: RudpApi, size: number, durationMs: number): Promise<Rate> {
  const server = await api.listen({ port: 0 });
  let received = 0;
  server.on('connection', (c) =>
    c.stream().on('data', (d: Buffer) => {
      received += d.length;
    }),
  );
  const client = await api.connect({ port: server.address().port });
  const stream = client.stream();
  stream.on('error', () => {});
  return streamThroughput(
    {
      writer: stream,
      receivedBytes: () => received,
      datagrams: () => client.stats().packetsSent,
      close: async () => {
        client.destroy();
        await server.close();
      },
    },
    size,
    durationMs,
  );
}

/** One node:net TCP connection on 127.0.0.1. */
export async function tcpThroughput(size: number, durationMs: number): Promise<Rate> {
  let received = 0;
  let serverSide: net.Socket | undefined;
  const server = net.createServer((s) => {
    serverSide = s;
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('TCP server has no port');
  const client = net.connect(address.port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  return streamThroughput(
    {
      writer: client,
      receivedBytes: () => received,
      datagrams: () => Number.NaN,
      close: async () => {
        client.destroy();
        serverSide?.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    },
    size,
    durationMs,
  );
}

/** One udx-native stream on 127.0.0.1, connected as its README connects a pair: the writer's end and a count of what the other read. */
export function udxStreamPair(UDX: UdxConstructor): StreamPair {
  const udx = new UDX();
  const a = udx.createSocket();
  const b = udx.createSocket();
  a.bind(0, '127.0.0.1');
  b.bind(0, '127.0.0.1');
  const tx = udx.createStream(1);
  const rx = udx.createStream(2);
  tx.connect(a, 2, b.address().port, '127.0.0.1');
  rx.connect(b, 1, a.address().port, '127.0.0.1');
  let received = 0;
  rx.on('data', (d: Buffer) => {
    received += d.length;
  });
  tx.on('error', () => {});
  rx.on('error', () => {});
  return {
    writer: tx,
    receivedBytes: () => received,
    datagrams: () => tx.packetsTransmitted,
    close: async () => {
      tx.destroy();
      rx.destroy();
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** One udx-native stream on 127.0.0.1 ({@link udxStreamPair}), written as stream users write. */
export async function udxThroughput(UDX: UdxConstructor, size: number, durationMs: number): Promise<Rate> {
  return streamThroughput(udxStreamPair(UDX), size, durationMs);
}
