/**
 * Measures a NAT rebinding in the simulator (not a test: run with
 * `npx tsx packages/rudp/test/measure/nat-rebinding.ts [seeds]`): an echoing
 * encrypted server, 70 ms RTT, 150 messages, the client's port changed 400 ms
 * in. Per seed, after the rebinding: when the first datagram from the new port
 * reached the server, when the server first sent anything (a PATH_CHALLENGE) to the new
 * port and when its own traffic, when it sent its last datagram to the old one (from then on
 * all its traffic goes to the new port), when the path was validated (the
 * `migrated` event), how many of its datagrams were lost to the old port
 * (the simulator's no-route drops, in flight at the rebinding included) and
 * how many it sent there after the first datagram from the new port came, and
 * how much later the transfer ended than the same seed without a rebinding. The figures in packages/rudp/README.md come from it.
 */
import { CLIENT, SERVER } from '../helpers/pair.js';
import { REBOUND, echoPair, firstArrival, printSeeds, recordSends, runUntilEchoed } from '../helpers/rebinding.js';

const COUNT = 150;

/** One run; `rebind` whether the client's port changes 400 ms in. */
function run(seed: number, rebind: boolean) {
  const { p } = echoPair(COUNT, seed);
  const sends = recordSends(p.server);
  const firstFromNew = firstArrival(p.server, () => REBOUND);
  p.sim.runFor(400);
  const rebindAt = p.sim.now;
  if (rebind) p.sim.rebind(CLIENT, REBOUND);
  const doneAt = runUntilEchoed(p, COUNT, 30_000);
  const after = sends.filter((s) => s.at >= rebindAt);
  const validatedAt = p.serverEvents.find((r) => r.event.type === 'migrated')?.at ?? Number.NaN;
  const toNew = after.filter((s) => s.to === REBOUND);
  const toOld = after.filter((s) => s.to === CLIENT);
  // A PATH_CHALLENGE (a header, the frame, the tag) is at most 34 bytes, a PING 26; anything larger is the connection's own traffic.
  return {
    firstFromNew: firstFromNew() - rebindAt,
    firstToNew: (toNew[0]?.at ?? Number.NaN) - rebindAt,
    firstTrafficToNew: (toNew.find((s) => s.size > 34)?.at ?? Number.NaN) - rebindAt,
    toOldAfterNotice: toOld.filter((s) => s.at >= firstFromNew()).length,
    lastToOld: (toOld.at(-1)?.at ?? rebindAt) - rebindAt,
    validated: validatedAt - rebindAt,
    lostToOld: p.sim.linkStats(SERVER, CLIENT).droppedNoRoute,
    doneAt,
  };
}

const seeds = Number(process.argv[2] ?? 5);
const rows = [];
for (let seed = 1; seed <= seeds; seed++) {
  const base = run(seed, false);
  const r = run(seed, true);
  rows.push({
    seed,
    firstFromNewMs: r.firstFromNew,
    firstToNewMs: r.firstToNew,
    firstTrafficToNewMs: r.firstTrafficToNew,
    lastToOldMs: r.lastToOld,
    validatedMs: r.validated,
    lostToOld: r.lostToOld,
    toOldAfterNotice: r.toOldAfterNotice,
    extraMs: r.doneAt - base.doneAt,
  });
}
printSeeds(rows, ['firstFromNewMs', 'firstToNewMs', 'firstTrafficToNewMs', 'lastToOldMs', 'validatedMs', 'lostToOld', 'toOldAfterNotice', 'extraMs']);
