/**
 * Counts the sockets this process holds open, ref'd or not and whatever
 * made them (node:dgram or rudp's UDP addon, which Node's
 * `getActiveResourcesInfo()` does not list): its socket descriptors (Linux).
 *
 * A test asks about the sockets it opened itself: `socketsNow()` before, then
 * `socketsSince(before)`. A count of all of them (the previous check) also saw
 * an earlier test's socket finishing its close meanwhile: a count waited for
 * could be skipped (one opened, one gone: no change), and a leak hidden.
 */
import { readdirSync, readlinkSync } from 'node:fs';

/** Whether the sockets can be listed here. */
export const canCountSockets = process.platform === 'linux';

/** The sockets this process holds open, by kernel identity (`socket:[inode]`: unique while open, not reused at once as descriptor numbers are). */
export function socketsNow(): ReadonlySet<string> {
  const ids = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('socket:')) ids.add(target);
    } catch {
      // closed while listed (the directory's own descriptor)
    }
  }
  return ids;
}

/** How many of the sockets open now were not open at `before` (what the test opened and has not closed). */
export function socketsSince(before: ReadonlySet<string>): number {
  let opened = 0;
  for (const id of socketsNow()) if (!before.has(id)) opened++;
  return opened;
}

/** Resolves once `cond()` holds, checked every few ms (a socket closes asynchronously); false if it never does within `tries`. */
export async function eventually(cond: () => boolean, tries = 500): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}
