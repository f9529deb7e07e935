/**
 * Measures a client's IP address change in the simulator (not a test: run
 * with `npx tsx packages/rudp/test/measure/ip-migration.ts [seeds]`), as
 * measure/nat-rebinding.ts measures a port change: an echoing encrypted
 * server, 70 ms RTT, 150 messages, the client's address changed 400 ms in,
 * to another port of its host (`port`), to another host over a path like
 * the old one (`ip`, 35 ± 5 ms each way) and to another host over a slower
 * path (`ip-slow`, 60 ± 5 ms each way: cellular after Wi-Fi). Per seed,
 * after the change: when the first datagram from the new address reached
 * the server, when the server first sent its own traffic there (a datagram
 * that is not a challenge), when the new address was validated (`migrated`),
 * when the server got its first message from the new address and the client
 * its first message after the change (time to resume each way), how many of the server's datagrams were lost to
 * the old address, and how much later the transfer ended than the same seed
 * without a change. The figures in packages/rudp/README.md come from it.
 */
import { PathValidation } from '../../src/core/path-validation.js';
import { CLIENT, SERVER, messagesOf } from '../helpers/pair.js';
import { REBOUND, echoPair, firstArrival, printSeeds, recordSends, runUntilEchoed } from '../helpers/rebinding.js';

const COUNT = 150;
const MOVED = '10.0.0.7:5000';
type Mode = 'none' | 'port' | 'ip' | 'ip-slow';

// Which datagrams are challenges: the one a poll returns after a validation recorded one.
let challenged = false;
const onProbeSent = PathValidation.prototype.onProbeSent;
(PathValidation.prototype as { onProbeSent: typeof onProbeSent }).onProbeSent = function (this: PathValidation, now, data) {
  challenged = true;
  onProbeSent.call(this, now, data);
};
const tookChallenge = (): boolean => {
  const was = challenged;
  challenged = false;
  return was;
};

function run(seed: number, mode: Mode) {
  const { p } = echoPair(COUNT, seed);
  const to = mode === 'port' ? REBOUND : MOVED;
  const sends = recordSends(p.server, tookChallenge);
  const firstFromNew = firstArrival(p.server, () => to);
  p.sim.runFor(400);
  const changeAt = p.sim.now;
  const clientBefore = messagesOf(p.clientEvents).length;
  if (mode !== 'none') p.sim.rebind(CLIENT, to);
  if (mode === 'ip-slow') p.sim.setLinks(MOVED, SERVER, { delayMs: 60, jitterMs: 5 });
  const doneAt = runUntilEchoed(p, COUNT, 30_000);
  const nth = (log: typeof p.clientEvents, n: number): number => log.filter((r) => r.event.type === 'message')[n]?.at ?? Number.NaN;
  // The server's first message after the change that a packet from the new address brought (those in flight from the old one came earlier).
  const serverResumedAt = p.serverEvents.find((r) => r.event.type === 'message' && r.at >= firstFromNew())?.at ?? Number.NaN;
  const after = sends.filter((s) => s.at >= changeAt);
  return {
    firstFromNew: firstFromNew() - changeAt,
    firstTrafficToNew: (after.find((s) => s.to === to && !s.challenge)?.at ?? Number.NaN) - changeAt,
    validated: (p.serverEvents.find((r) => r.event.type === 'migrated')?.at ?? Number.NaN) - changeAt,
    clientResumed: nth(p.clientEvents, clientBefore) - changeAt,
    serverResumed: serverResumedAt - changeAt,
    lostToOld: p.sim.linkStats(SERVER, CLIENT).droppedNoRoute,
    doneAt,
  };
}

const seeds = Number(process.argv[2] ?? 5);
for (const mode of ['port', 'ip', 'ip-slow'] as const) {
  const rows = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const base = run(seed, 'none');
    const r = run(seed, mode);
    rows.push({
      seed,
      firstFromNewMs: r.firstFromNew,
      firstTrafficToNewMs: r.firstTrafficToNew,
      validatedMs: r.validated,
      serverResumedMs: r.serverResumed,
      clientResumedMs: r.clientResumed,
      lostToOld: r.lostToOld,
      extraMs: r.doneAt - base.doneAt,
    });
  }
  console.log(`\n${mode}`);
  // NaN: nothing was left to measure (a client whose messages had all arrived before the change has none to resume).
  printSeeds(rows, ['firstFromNewMs', 'firstTrafficToNewMs', 'validatedMs', 'serverResumedMs', 'clientResumedMs', 'lostToOld', 'extraMs']);
}
