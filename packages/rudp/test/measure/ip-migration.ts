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
import { CLIENT, SERVER, makePair, messagesOf } from '../helpers/pair.js';
import { REBOUND, messages } from '../helpers/rebinding.js';

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

function run(seed: number, mode: Mode) {
  const p = makePair({ seed });
  p.onServerEvent = (e) => {
    if (e.type === 'message') e.connection.send(e.data);
  };
  for (const m of messages(COUNT)) p.conn.send(m);
  p.sim.wake(CLIENT);
  const to = mode === 'port' ? REBOUND : MOVED;
  const sends: { to: string; at: number; size: number; challenge: boolean }[] = [];
  const poll = p.server.pollTransmit.bind(p.server);
  p.server.pollTransmit = (now) => {
    challenged = false;
    const t = poll(now);
    if (t !== undefined) sends.push({ to: t.to, at: now, size: t.data.length, challenge: challenged });
    return t;
  };
  let firstFromNewAt = Number.NaN;
  const deliver = p.server.handleDatagram.bind(p.server);
  p.server.handleDatagram = (now, data, from) => {
    if (from === to && Number.isNaN(firstFromNewAt)) firstFromNewAt = now;
    deliver(now, data, from);
  };
  p.sim.runFor(400);
  const changeAt = p.sim.now;
  const clientBefore = messagesOf(p.clientEvents).length;
  if (mode !== 'none') p.sim.rebind(CLIENT, to);
  if (mode === 'ip-slow') p.sim.setLinks(MOVED, SERVER, { delayMs: 60, jitterMs: 5 });
  let doneAt = Number.NaN;
  while (p.sim.now < changeAt + 30_000) {
    if (messagesOf(p.clientEvents).length === COUNT) {
      doneAt = p.clientEvents.filter((r) => r.event.type === 'message').at(-1)?.at as number;
      break;
    }
    if (!p.sim.step()) break;
  }
  const nth = (log: typeof p.clientEvents, n: number): number => log.filter((r) => r.event.type === 'message')[n]?.at ?? Number.NaN;
  // The server's first message after the change that a packet from the new address brought (those in flight from the old one came earlier).
  const serverResumedAt = p.serverEvents.find((r) => r.event.type === 'message' && r.at >= firstFromNewAt)?.at ?? Number.NaN;
  const after = sends.filter((s) => s.at >= changeAt);
  return {
    firstFromNew: firstFromNewAt - changeAt,
    firstTrafficToNew: (after.find((s) => s.to === to && !s.challenge)?.at ?? Number.NaN) - changeAt,
    validated: (p.serverEvents.find((r) => r.event.type === 'migrated')?.at ?? Number.NaN) - changeAt,
    clientResumed: nth(p.clientEvents, clientBefore) - changeAt,
    serverResumed: serverResumedAt - changeAt,
    lostToOld: p.sim.linkStats(SERVER, CLIENT).droppedNoRoute,
    doneAt,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

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
  console.table(rows);
  for (const k of ['firstFromNewMs', 'firstTrafficToNewMs', 'validatedMs', 'serverResumedMs', 'clientResumedMs', 'lostToOld', 'extraMs'] as const) {
    const xs = rows.map((r) => r[k]);
    // NaN: nothing was left to measure (a client whose messages had all arrived before the change has none to resume).
    const ok = xs.filter((x) => !Number.isNaN(x));
    console.log(`${k}: median ${median(ok).toFixed(1)}, range ${Math.min(...ok).toFixed(1)}–${Math.max(...ok).toFixed(1)}${ok.length < xs.length ? ` (${xs.length - ok.length} seed(s) with none)` : ''}`);
  }
}
