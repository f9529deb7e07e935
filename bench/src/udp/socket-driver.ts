import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { PeerAddress } from '../lib/rudp-imports.js';
import type { MessageEndpoint, MessageEvent } from '../peers/message-endpoint.js';

/** A `MessageEndpoint` bound to a real UDP socket on 127.0.0.1, driven by real timers. */
export interface SocketDriver {
  readonly port: number;
  readonly endpoint: MessageEndpoint;
  /** The app changed the endpoint (sent, connected): send what it has now and re-arm its timer. */
  wake(): void;
  /** Datagrams this driver sent. */
  readonly datagramsSent: number;
  close(): Promise<void>;
}

/**
 * Runs a sans-IO endpoint (here KCP's adapter) on a loopback UDP socket, the
 * way an application would: datagrams in → `handleDatagram`, one timer at
 * `pollTimeout`, every transmit sent at once, events handed to `onEvent`.
 * Addresses are `127.0.0.1:port` strings, as the endpoint's peers.
 */
export async function driveOnSocket(endpoint: MessageEndpoint, onEvent: (ev: MessageEvent) => void): Promise<SocketDriver> {
  // The buffer rudp's adapter asks for, so neither end drops what the other would keep.
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let sent = 0;
  let closed = false;

  const service = (): void => {
    if (closed) return;
    const now = performance.now();
    for (let ev = endpoint.pollEvent(); ev; ev = endpoint.pollEvent()) onEvent(ev);
    for (let t = endpoint.pollTransmit(now); t; t = endpoint.pollTransmit(now)) {
      const sep = t.to.lastIndexOf(':');
      sent++;
      socket.send(t.data, Number(t.to.slice(sep + 1)), t.to.slice(0, sep));
    }
    // Events raised while transmitting (none for KCP today) must not wait for the next datagram.
    for (let ev = endpoint.pollEvent(); ev; ev = endpoint.pollEvent()) onEvent(ev);
    const deadline = endpoint.pollTimeout();
    if (deadline === undefined) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (timer !== undefined && deadline === timerAt) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = deadline;
    timer = setTimeout(onTimer, Math.max(0, deadline - performance.now()));
  };
  const onTimer = (): void => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    endpoint.handleTimeout(performance.now());
    service();
  };
  socket.on('message', (msg, rinfo) => {
    const from: PeerAddress = `${rinfo.address}:${rinfo.port}`;
    endpoint.handleDatagram(performance.now(), msg, from);
    service();
  });
  socket.on('error', () => {});
  return {
    port: socket.address().port,
    endpoint,
    wake: service,
    get datagramsSent() {
      return sent;
    },
    close: async () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
