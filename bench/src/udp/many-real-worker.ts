/**
 * A child process of the many-real scenario: the server (one rudp `listen`
 * endpoint, or one udx-native socket carrying every stream) or one client
 * process (its share of the connections, each sending 16 bytes every
 * interval at its own phase). The server's CPU and memory are measured in
 * its own process, so the clients' work never counts against it.
 *
 * argv: `server <system>` or `client <system> <from> <count> <total> <intervalMs>`.
 */
import { collectGarbage } from '../run/many-run.js';
import { loadUdx, type UdxSocket, type UdxStream } from '../peers/udx-native.js';
import { MESSAGE_BYTES, countClose, type FromClient, type FromServer, type ManyRealSystem, type MemorySample, type ToClient, type ToServer } from './many-real-protocol.js';

const HOST = '127.0.0.1';

function send(message: FromServer | FromClient): void {
  process.send?.(message);
}

function memory(): MemorySample {
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

/** A server: counts messages and measures its own CPU, datagrams and memory when told. */
async function server(system: ManyRealSystem): Promise<void> {
  let messages = 0;
  let badMessages = 0;
  const closed: Record<string, number> = {};
  let datagrams: () => { sent: number; received: number };
  let connections: () => number;
  let port: number;
  let onStreams: (m: Extract<ToServer, { type: 'streams' }>) => void = () => {};
  let close: () => Promise<void>;
  if (system === 'rudp') {
    // MANY_REAL_SERVER_RUDP=path/to/dist/index.js runs another build of rudpx in the server (before/after in one run: src/tools/many-real-compare.ts).
    const api = (await import(process.env['MANY_REAL_SERVER_RUDP'] ?? 'rudpx')) as typeof import('rudpx');
    // MANY_REAL_SERVER_OPTIONS='{"maxAckDelayMs":5}' tries transport options on the server (src/tools/many-real-compare.ts).
    // Every client runs on this one host: the limit per host (1,024 by default) is lifted, as a user load-testing from one machine would.
    const s = await api.listen({ port: 0, maxConnectionsPerHost: 2 ** 31, ...(JSON.parse(process.env['MANY_REAL_SERVER_OPTIONS'] ?? '{}') as object) });
    s.on('connection', (c) => {
      c.on('close', (reason: { readonly kind: string; readonly message: string }) => countClose(closed, `${reason.kind}: ${reason.message}`));
      c.on('message', (m: Buffer) => {
        if (m.length === MESSAGE_BYTES) messages++;
        else badMessages++;
      });
    });
    port = s.address().port;
    datagrams = () => {
      const st = s.stats();
      return { sent: st.datagramsSent, received: st.datagramsReceived };
    };
    connections = () => s.connections.size;
    close = () => s.close();
  } else {
    const UDX = loadUdx();
    if (typeof UDX === 'string') throw new Error(UDX);
    const udx = new UDX();
    const socket = udx.createSocket() as UdxSocket & { readonly packetsTransmitted: number; readonly packetsReceived: number };
    socket.bind(0, HOST);
    port = socket.address().port;
    const streams: UdxStream[] = [];
    let bytes = 0;
    // A stream is a byte stream: every message is 16 bytes, so messages = bytes ÷ 16.
    const counted = (): number => Math.floor(bytes / MESSAGE_BYTES);
    onStreams = (m) => {
      for (let i = m.from; i < m.from + m.count; i++) {
        const stream = udx.createStream(i + 1);
        stream.on('data', (d: Buffer) => {
          bytes += d.length;
          messages = counted();
        });
        stream.on('error', (e: Error) => countClose(closed, e.message));
        stream.connect(socket, i + 1, m.port, HOST);
        streams.push(stream);
      }
      send({ type: 'streams-ok' });
    };
    datagrams = () => ({ sent: socket.packetsTransmitted, received: socket.packetsReceived });
    connections = () => streams.length;
    close = async () => {
      for (const st of streams) st.destroy();
      await socket.close();
    };
  }
  // After the library is loaded and the socket bound: what remains is what the connections cost.
  const baseline = memory();
  // MANY_REAL_SERVER_WINDOW_PROF=file.cpuprofile profiles the server over the measured window alone (not the handshakes before it).
  const windowProf = process.env['MANY_REAL_SERVER_WINDOW_PROF'];
  const inspector = windowProf ? new (await import('node:inspector')).Session() : undefined;
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => inspector?.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  let d0 = datagrams();
  let m0 = 0;
  process.on('message', (raw) => {
    const m = raw as ToServer;
    switch (m.type) {
      case 'streams':
        onStreams(m);
        return;
      case 'measure-start': {
        if (inspector) {
          inspector.connect();
          // 100 µs samples: a 30 s window of a mostly idle server holds only about a second of work.
          void post('Profiler.enable')
            .then(() => post('Profiler.setSamplingInterval', { interval: 100 }))
            .then(() => post('Profiler.start'));
        }
        const mem = memory();
        cpu0 = process.cpuUsage();
        t0 = performance.now();
        d0 = datagrams();
        m0 = messages;
        send({ type: 'started', memory: mem, connections: connections() });
        return;
      }
      case 'measure-end': {
        const cpu = process.cpuUsage(cpu0);
        if (inspector && windowProf) {
          void post('Profiler.stop').then(async (r) => {
            const { writeFileSync } = await import('node:fs');
            writeFileSync(windowProf, JSON.stringify((r as { readonly profile: unknown }).profile));
          });
        }
        const d = datagrams();
        send({
          type: 'window',
          window: {
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
            userSeconds: cpu.user / 1e6,
            systemSeconds: cpu.system / 1e6,
            wallSeconds: (performance.now() - t0) / 1000,
            datagramsSent: d.sent - d0.sent,
            datagramsReceived: d.received - d0.received,
            messages: messages - m0,
          },
        });
        return;
      }
      case 'totals':
        send({ type: 'totals', messages, badMessages, closed });
        return;
      case 'exit':
        void close().finally(() => process.exit(0));
        return;
    }
  });
  send({ type: 'ready', port, baseline });
}

/** Something that sends one 16-byte message. */
type Sender = () => void;

/** A client process: opens its connections, then sends on each at its phase of the interval. */
async function client(system: ManyRealSystem, from: number, count: number, total: number, intervalMs: number): Promise<void> {
  const senders: Sender[] = [];
  const payload = Buffer.alloc(MESSAGE_BYTES, 7);
  let failed = 0;
  const closed: Record<string, number> = {};
  let close: () => void = () => {};
  let socket: UdxSocket | undefined;
  let UDX: ReturnType<typeof loadUdx> | undefined;
  let udx: InstanceType<Exclude<ReturnType<typeof loadUdx>, string>> | undefined;
  if (system === 'udx-native') {
    UDX = loadUdx();
    if (typeof UDX === 'string') throw new Error(UDX);
    udx = new UDX();
    socket = udx.createSocket();
    socket.bind(0, HOST);
    send({ type: 'bound', port: socket.address().port });
  }
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;

  const connectAll = async (serverPort: number): Promise<void> => {
    if (system === 'rudp') {
      const api = await import('rudpx');
      const conns: import('rudpx').RudpConnection[] = [];
      // A bounded number of handshakes at once, as a crowd of users arrives (and so the 2-core machine keeps up).
      const CONCURRENT = 64;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          next++;
          try {
            const c = await api.connect({ port: serverPort, host: HOST });
            c.on('error', () => {});
            c.on('close', (reason: { readonly kind: string; readonly message: string }) => countClose(closed, `${reason.kind}: ${reason.message}`));
            conns.push(c);
            senders.push(() => {
              c.send(payload).catch(() => {});
            });
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENT }, worker));
      close = () => {
        for (const c of conns) c.destroy();
      };
    } else {
      const streams: UdxStream[] = [];
      for (let i = from; i < from + count; i++) {
        const stream = (udx as NonNullable<typeof udx>).createStream(i + 1);
        stream.on('error', (e: Error) => countClose(closed, e.message));
        stream.connect(socket as UdxSocket, i + 1, serverPort, HOST);
        streams.push(stream);
        senders.push(() => {
          stream.write(payload);
        });
      }
      close = () => {
        for (const st of streams) st.destroy();
      };
    }
    send({ type: 'connected', failed });
  };

  // Connection `from + k` sends at startAt + its phase + n·interval; the phases spread the whole crowd evenly over the interval.
  const go = (startAt: number): void => {
    const phase = (k: number): number => (((from + k) * intervalMs) / total) % intervalMs;
    const due = senders.map((_, k) => startAt + phase(k));
    let cursor = 0;
    const tick = (): void => {
      const now = Date.now();
      // The phases rise with k, so the connections due form a window that wraps round.
      for (let n = 0; n < senders.length; n++) {
        const k = cursor;
        if ((due[k] as number) > now) break;
        (senders[k] as Sender)();
        sent++;
        due[k] = (due[k] as number) + intervalMs;
        cursor = (cursor + 1) % senders.length;
      }
    };
    timer = setInterval(tick, 20);
  };

  process.on('message', (raw) => {
    const m = raw as ToClient;
    switch (m.type) {
      case 'connect':
        void connectAll(m.serverPort);
        return;
      case 'go':
        go(m.startAt);
        return;
      case 'stop':
        if (timer) clearInterval(timer);
        send({ type: 'stopped', sent, closed });
        return;
      case 'exit':
        close();
        setTimeout(() => process.exit(0), 200);
        return;
    }
  });
  if (system === 'rudp') send({ type: 'bound', port: 0 });
}

const [role, system, ...rest] = process.argv.slice(2);
if (system !== 'rudp' && system !== 'udx-native') throw new Error(`many-real worker: unknown system ${String(system)}`);
if (role === 'server') await server(system);
else if (role === 'client') {
  const [from, count, total, intervalMs] = rest.map(Number) as [number, number, number, number];
  await client(system, from, count, total, intervalMs);
} else throw new Error(`many-real worker: unknown role ${String(role)}`);
