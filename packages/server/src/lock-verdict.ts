/**
 * The verdict on a lock file found in the way: held by a live server,
 * provably stale, being written, or waiting for a renewal, judged from where
 * this process runs.
 */
import { systemErrorCode } from 'forum-protocol';
import { recordOf, type LockPlace } from './lock-record.js';

/** Whether process `pid` of this namespace runs: signal 0 checks without sending anything (EPERM: it runs, as another user). */
const running = (pid: number): boolean => {
  // This process's own id: the lock of an earlier process of the same id (a restart as PID 1), gone.
  // (The locks this process holds never get here: `heldHere` in data-dir-lock.ts.)
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return systemErrorCode(e) === 'EPERM';
  }
};

/** How a lock file's holder stands, seen from `here`. */
export type Verdict =
  | { readonly kind: 'held'; readonly why: string }
  | { readonly kind: 'stale'; readonly why: string }
  | { readonly kind: 'being-written' }
  | { readonly kind: 'unrenewed' };

/**
 * How the lock of a holder at `there` is judged from `here`: by its pid (the
 * same process-id space), as gone (this host before a reboot: no process
 * outlives its boot), by its renewals (another namespace of this boot: a
 * container's processes cannot be seen from the next one), or not at all
 * (another host). A boot id is drawn at random at every boot, so one shared
 * is this kernel's whatever the host name: a container recreated (Docker
 * names each new container's host after its id) is judged by renewals, not
 * refused as another host's until an operator deletes the lock.
 */
const placeRule = (there: LockPlace, here: LockPlace): 'pid' | 'earlier-boot' | 'renewals' | 'elsewhere' => {
  if (there.boot !== undefined && there.boot === here.boot && there.host !== here.host) return 'renewals';
  if (there.host !== here.host) return 'elsewhere';
  if (there.boot !== here.boot) return there.boot !== undefined && here.boot !== undefined ? 'earlier-boot' : 'elsewhere';
  return there.pidns === here.pidns ? 'pid' : 'renewals';
};

/**
 * `placeRule`, but a lock of another boot id modified since `staleMs` before
 * this host booted is judged by its renewals: a live machine of the same name
 * on a shared file system renews it every `RENEW_MS`, so its last renewal may
 * predate a boot seconds old (a server started at boot), while a lock of an
 * earlier boot of this host older than that is stale by renewals too.
 */
const ruleFor = (there: LockPlace, here: LockPlace, seen: LockSighting, staleMs: number): ReturnType<typeof placeRule> => {
  const rule = placeRule(there, here);
  return rule === 'earlier-boot' && here.bootedAt !== undefined && seen.ageMs < Date.now() - here.bootedAt + staleMs ? 'renewals' : rule;
};

/** What a judge knows of the lock file beyond its text. */
export interface LockSighting {
  /** When this text was first seen, by this process's clock (`performance.now()`). */
  readonly since: number;
  /** Whether its modification time moved since this text was first seen: its holder renews it. */
  readonly renewed: boolean;
  /** How long ago it was last modified, ms (by the wall clock its holder renews it with). */
  readonly ageMs: number;
}

/**
 * The verdict on a lock file that holds `text`. Stale only when it is
 * provably so: its process is of this process-id space and no longer runs,
 * it was taken before this host's last boot, it is another container's of
 * this boot and went unrenewed for `staleMs` (and was watched here through
 * two of its renewals, every `renewMs`), or the file has held no complete
 * record for `graceMs`.
 */
export const verdictOf = (text: string, path: string, here: LockPlace, seen: LockSighting, graceMs: number, staleMs: number, renewMs: number): Verdict => {
  const r = recordOf(text);
  if (r.kind === 'partial') {
    // Created and not written yet (a file system without hard links creates it empty), or a server
    // killed as it wrote it: the first is done within milliseconds.
    if (performance.now() - seen.since < graceMs) return { kind: 'being-written' };
    return { kind: 'stale', why: 'a server killed as it started' };
  }
  const held = (where: string): Verdict => ({ kind: 'held', why: `in use by forum-server process ${r.pid}${where} (${path}); one server per data directory` });
  if (r.kind === 'legacy') {
    // An older forum-server's lock knows no place: judged as that server judged it (this machine's pids).
    if (running(r.pid)) return held('');
    return { kind: 'stale', why: `process ${r.pid}, which is no longer running (an older forum-server's lock, without host)` };
  }
  switch (ruleFor(r.place, here, seen, staleMs)) {
    case 'pid':
      if (running(r.pid)) return held('');
      return { kind: 'stale', why: `process ${r.pid}, which is no longer running` };
    case 'earlier-boot':
      return { kind: 'stale', why: `process ${r.pid} before this host restarted (boot id ${r.place.boot ?? 'unknown'}, now ${here.boot ?? 'unknown'})` };
    case 'renewals': {
      const where =
        r.place.boot !== here.boot
          ? ` of boot id ${r.place.boot ?? 'unknown'} (here ${here.boot ?? 'unknown'}) on a host named ${JSON.stringify(r.place.host)} too, modified since shortly before this host booted`
          : r.place.host === here.host
            ? ` in another container or process-id namespace of this host (${r.place.pidns ?? 'unknown'}, here ${here.pidns ?? 'unknown'})`
            : ` in another container of this host (host name ${JSON.stringify(r.place.host)}, boot id ${r.place.boot ?? 'unknown'})`;
      if (seen.renewed) return held(`${where}, which renews it`);
      // Unrenewed by its holder's clock, or for as long under watch here (a clock set back since it was written).
      const watched = performance.now() - seen.since;
      const unrenewed = Math.max(seen.ageMs, watched);
      // And watched here through two renewals: a wall clock stepped forward (NTP, a VM resumed) ages every
      // lock at once, and a live holder's was taken over in 3 ms before its next renewal (attack/clock-step.ts).
      if (unrenewed >= staleMs && watched >= Math.min(2 * renewMs, staleMs)) return { kind: 'stale', why: `process ${r.pid}${where}, unrenewed for ${Math.round(unrenewed / 1000)} s` };
      return { kind: 'unrenewed' };
    }
    case 'elsewhere':
      return {
        kind: 'held',
        why: `in use by forum-server process ${r.pid} on host ${JSON.stringify(r.place.host)} (${path}), which cannot be checked from here; one server per data directory. If no server runs there any more, delete ${path} and start again`,
      };
  }
};
