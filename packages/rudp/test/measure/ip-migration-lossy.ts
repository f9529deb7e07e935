/**
 * Measures how soon a client's new host is validated over a lossy new path
 * (not a test: run with `npx tsx packages/rudp/test/measure/ip-migration-lossy.ts [loss] [seeds]`):
 * an echoing encrypted server, 70 ms RTT, 3,000 messages of 500 bytes
 * echoed; 400 ms in the client moves to another host over a path of
 * 80 ± 10 ms each way that loses `loss` (default 0.3) of its datagrams.
 * Per run: when the new host was validated after the change, and how many
 * validations were given up. The figures behind the README's decision on
 * challenge spacing (IP address change, timeouts) come from it, the
 * comparison with challenges a new path's initial probe timeout apart from a
 * patched `PathValidation.onProbeSent`.
 */
import { CLIENT, SERVER, makePair } from '../helpers/pair.js';

const MOVED = '10.0.0.7:5000';
const loss = Number(process.argv[2] ?? 0.3);
const seeds = Number(process.argv[3] ?? 40);
const validated: number[] = [];
let abandoned = 0;
for (let seed = 1; seed <= seeds; seed++) {
  const p = makePair({ seed });
  p.onServerEvent = (e) => {
    if (e.type === 'message') e.connection.send(e.data);
  };
  for (let i = 0; i < 3000; i++) p.conn.send(new Uint8Array(500));
  p.sim.wake(CLIENT);
  p.sim.runFor(400);
  const changeAt = p.sim.now;
  p.sim.rebind(CLIENT, MOVED);
  p.sim.setLinks(MOVED, SERVER, { delayMs: 80, jitterMs: 10, loss });
  let at = Number.NaN;
  const migrated = p.server.migrated.bind(p.server);
  p.server.migrated = (conn, previous) => {
    if (Number.isNaN(at)) at = p.sim.now - changeAt;
    migrated(conn, previous);
  };
  p.sim.runFor(15_000);
  validated.push(at);
  abandoned += p.server.stats().pathValidationsAbandoned;
}
const ok = validated.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
const at = (q: number): string => (ok[Math.min(ok.length - 1, Math.floor(q * ok.length))] as number).toFixed(0);
console.log(`loss ${loss}, ${seeds} seeds: validated in ${ok.length}; median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms; validations given up ${abandoned}`);
