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
import { readFileSync } from 'node:fs';

/**
 * A socket on 127.0.0.1, at a port below the kernel's ephemeral range where it has one (Linux). Closed,
 * the forwarder's front port must stay closed for its ICMP error to come: a port the kernel hands out
 * for a bind to port 0 could go to another test's socket meanwhile, which took the client's datagrams
 * without a word (the client then waited out its idle timeout: ETIMEDOUT after 60 s, once in 8 runs
 * of node-api-errors.test.ts under load). Nobody else binds these ports but by name.
 */
async function bindOutsideEphemeral(): Promise<dgram.Socket> {
  let low: number | undefined;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    low = undefined;
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const socket = dgram.createSocket('udp4');
    const port = low !== undefined && low > 11_024 ? low - 10_000 + Math.floor(Math.random() * 10_000) : 0;
    try {
      socket.bind(port, '127.0.0.1');
      await once(socket, 'listening');
      return socket;
    } catch {
      // Taken (EADDRINUSE): another port.
      try {
        socket.close();
      } catch {
        // Not running after the failed bind: nothing to close.
      }
    }
  }
  throw new Error('startUdpForwarder: no free port below the ephemeral range');
}

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
  const front = await bindOutsideEphemeral();
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
  await openBack();
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
