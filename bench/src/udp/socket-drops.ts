import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Datagrams the kernel dropped at this process's UDP sockets (full receive
 * buffer, mostly), summed: the `drops` column of `/proc/net/udp` and
 * `/proc/net/udp6` for the sockets this process holds open. `NaN` where
 * that is not readable (not Linux). A socket closed since an earlier call
 * takes its count with it, so read before closing.
 */
export function udpSocketDrops(): number {
  let inodes: Set<string>;
  try {
    inodes = new Set();
    for (const fd of readdirSync('/proc/self/fd')) {
      const m = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/self/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    }
  } catch {
    return Number.NaN;
  }
  let total = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    total += dropsOf(text, inodes);
  }
  return total;
}

/** Sum of the `drops` column over the rows of a `/proc/net/udp` table whose inode is in `inodes`. */
export function dropsOf(table: string, inodes: ReadonlySet<string>): number {
  let total = 0;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13 || !inodes.has(f[9] as string)) continue;
    const drops = Number(f[12]);
    if (Number.isFinite(drops)) total += drops;
  }
  return total;
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return ''; // the fd closed while we listed them
  }
}
