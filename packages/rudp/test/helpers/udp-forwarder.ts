/**
 * A plain UDP forwarder on 127.0.0.1 for real-socket tests that need a port
 * to vanish under a live connection (closing it makes the next datagram draw
 * an ICMP "port unreachable") or a peer to vanish without a word (`silence()`).
 * No impairment: that is the udp-relay package's.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

/** A running forwarder. */
export interface UdpForwarder {
  readonly port: number;
  /** From now on drops every datagram both ways, its ports still bound: no ICMP error tells the client (a crashed host, a lost NAT binding). */
  silence(): void;
  close(): Promise<void>;
}

/** Forwards between one client and `127.0.0.1:targetPort`. */
export async function startUdpForwarder(targetPort: number): Promise<UdpForwarder> {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  let silent = false;
  front.on('message', (msg, rinfo) => {
    if (silent) return;
    client = { address: rinfo.address, port: rinfo.port };
    back.send(msg, targetPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (client !== undefined && !silent) front.send(msg, client.port, client.address);
  });
  front.bind(0, '127.0.0.1');
  back.bind(0, '127.0.0.1');
  await Promise.all([once(front, 'listening'), once(back, 'listening')]);
  return {
    port: front.address().port,
    silence: () => {
      silent = true;
    },
    close: async () => {
      await Promise.all([new Promise<void>((r) => front.close(() => r())), new Promise<void>((r) => back.close(() => r()))]);
    },
  };
}
