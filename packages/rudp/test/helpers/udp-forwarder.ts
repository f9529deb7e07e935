/**
 * A plain UDP forwarder on 127.0.0.1 for real-socket tests that need a port
 * to vanish under a live connection (closing it makes the next datagram draw
 * an ICMP "port unreachable"), a peer to vanish without a word (`silence()`)
 * or a NAT to give the client a new port (`rebind()`) or a new IP address
 * (`rebind('127.0.0.2')`: Linux routes all of 127/8 to the loopback).
 * No impairment: that is the udp-relay package's.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

/** A running forwarder. */
export interface UdpForwarder {
  readonly port: number;
  /** The port the target sees the client's datagrams come from. */
  readonly sourcePort: number;
  /** From now on drops every datagram both ways, its ports still bound: no ICMP error tells the client (a crashed host, a lost NAT binding). */
  silence(): void;
  /**
   * Forwards from a new port from now on, as a NAT that rebinds the client's
   * mapping: datagrams the target sends to the old port are dropped (it stays
   * bound, so no ICMP error tells anyone). Resolves with the new port. With
   * `host` (another loopback address), from a port of that address: the
   * client's IP address changed.
   */
  rebind(host?: string): Promise<number>;
  close(): Promise<void>;
}

/** Forwards between one client and `127.0.0.1:targetPort`. */
export async function startUdpForwarder(targetPort: number): Promise<UdpForwarder> {
  const front = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  let silent = false;
  /** Every back socket opened: the current one forwards, the older ones only stay bound until `close`. */
  const backs: dgram.Socket[] = [];
  const openBack = async (host = '127.0.0.1'): Promise<dgram.Socket> => {
    const back = dgram.createSocket('udp4');
    back.on('message', (msg) => {
      if (client !== undefined && !silent && back === backs[backs.length - 1]) front.send(msg, client.port, client.address);
    });
    back.bind(0, host);
    await once(back, 'listening');
    backs.push(back);
    return back;
  };
  front.on('message', (msg, rinfo) => {
    if (silent) return;
    client = { address: rinfo.address, port: rinfo.port };
    backs[backs.length - 1]?.send(msg, targetPort, '127.0.0.1');
  });
  front.bind(0, '127.0.0.1');
  await Promise.all([once(front, 'listening'), openBack()]);
  return {
    port: front.address().port,
    get sourcePort() {
      return (backs[backs.length - 1] as dgram.Socket).address().port;
    },
    silence: () => {
      silent = true;
    },
    rebind: async (host?: string) => (await openBack(host)).address().port,
    close: async () => {
      await Promise.all([front, ...backs].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
