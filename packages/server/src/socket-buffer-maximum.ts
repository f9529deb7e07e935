import { readFile } from 'node:fs/promises';

/** tcp_wmem's maximum where it cannot be read (Linux's default): the most a connection's kernel send buffer grows to. */
export const DEFAULT_SEND_BUFFER_CEILING = 4 * 1024 * 1024;

/**
 * The maximum (third number) of Linux's /proc/sys/net/ipv4/`name`, bytes: what the kernel's autotuning lets one
 * TCP connection's send (`tcp_wmem`) or receive (`tcp_rmem`) buffer grow to. `fallback` where it cannot be read
 * (not Linux).
 */
export const socketBufferMaximum = async (name: 'tcp_wmem' | 'tcp_rmem', fallback: number): Promise<number> =>
  Number((await readFile(`/proc/sys/net/ipv4/${name}`, 'utf8').catch(() => '')).trim().split(/\s+/)[2] ?? fallback) || fallback;
