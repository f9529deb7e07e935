/**
 * Measures a download across a client's IP address change in the simulator
 * (not a test: run with `npx tsx packages/rudp/test/measure/ip-migration-download.ts [seeds]`):
 * the server sends 3,000 messages of 1,000 bytes over a 20 Mbit/s path
 * (20 ± 2 ms each way, a 200 KB queue); 400 ms in, with a full window in
 * flight, the client moves to another host over a like path, or over one of
 * 60 ± 5 ms each way. Per seed: when the new address was validated, how
 * long after that the client got its next message, and how much later the
 * download ended than the same seed without a change. The figures in
 * packages/rudp/README.md (IP address change) come from it; the test of it
 * is transport-ip-migration.test.ts, "a download resumes on the new path".
 */
import { CLIENT, SERVER, makePair, messagesOf } from '../helpers/pair.js';

const MOVED = '10.0.0.7:5000';
const COUNT = 3000;
const LINK = { delayMs: 20, jitterMs: 2, bandwidthBps: 20_000_000, queueBytes: 200_000 };

function run(seed: number, newPath: typeof LINK | undefined): { done: number; validated: number; resumed: number } {
  const p = makePair({ seed, link: LINK });
  p.sim.runFor(300);
  const sc = p.serverConn();
  if (sc === undefined) throw new Error('no connection');
  for (let i = 0; i < COUNT; i++) sc.send(new Uint8Array(1000));
  p.sim.wake(SERVER);
  p.sim.runFor(400);
  const changeAt = p.sim.now;
  if (newPath !== undefined) {
    p.sim.rebind(CLIENT, MOVED);
    p.sim.setLinks(MOVED, SERVER, newPath);
  }
  let validated = Number.NaN;
  const migrated = p.server.migrated.bind(p.server);
  p.server.migrated = (conn, previous) => {
    validated = p.sim.now;
    migrated(conn, previous);
  };
  while (messagesOf(p.clientEvents).length < COUNT && p.sim.now < changeAt + 60_000) if (!p.sim.step()) break;
  const got = p.clientEvents.filter((r) => r.event.type === 'message');
  return {
    done: (got.at(-1)?.at ?? Number.NaN) - changeAt,
    validated: validated - changeAt,
    resumed: (got.find((r) => r.at > validated)?.at ?? Number.NaN) - validated,
  };
}

const seeds = Number(process.argv[2] ?? 5);
for (const [name, path] of [
  ['like path', LINK],
  ['slower path', { ...LINK, delayMs: 60, jitterMs: 5 }],
] as const) {
  const rows = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const base = run(seed, undefined);
    const r = run(seed, path);
    rows.push({ seed, validatedMs: r.validated, resumedAfterValidationMs: r.resumed, extraMs: r.done - base.done });
  }
  console.log(`\n${name}`);
  console.table(rows);
}
