/**
 * Counts the sockets this process holds open, ref'd or not and whatever
 * made them (node:dgram or rudp's UDP addon, which Node's
 * `getActiveResourcesInfo()` does not list): its socket descriptors (Linux).
 */
import { readdirSync, readlinkSync } from 'node:fs';

/** Whether `openSockets()` can count here. */
export const canCountSockets = process.platform === 'linux';

/** The sockets this process holds open. */
export function openSockets(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed while listed (the directory's own descriptor)
    }
  }).length;
}

/** Resolves once `cond()` holds, checked every few ms (a socket closes asynchronously); false if it never does within `tries`. */
export async function eventually(cond: () => boolean, tries = 500): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}

/**
 * The count of open sockets once it has stopped changing (the same over ~20 ms, for at most ~1 s):
 * a baseline taken while an earlier test's socket is still closing would be off by one when it goes.
 */
export async function settledSockets(): Promise<number> {
  let last = openSockets();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = openSockets();
    if (now === last) return now;
    last = now;
  }
  return last;
}
