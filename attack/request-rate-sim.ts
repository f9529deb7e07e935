/**
 * The server's rate of request work (packages/server/src/large-reply-rate.ts) on a simulated clock: what waits
 * honest clients see at a load, with or without attacking parties. No sockets, no CPU measured: only the rate's
 * queueing, exactly (its timers run on the simulated clock).
 *
 *   npx tsx attack/request-rate-sim.ts HONEST PER_SECOND [ATTACKERS] [SECONDS] [RATE_MIB] [CHARGE_KIB] [CHURN] [CHURN_HELD] [HONEST_ADDRESSES]
 *
 * HONEST parties (one address each, one request in flight, exponential think time of mean 1/PER_SECOND s: a person
 * or a script at a prompt), ATTACKERS parties asking back to back (one in flight each, as many connections do not
 * help a party), for SECONDS (default 60) at RATE_MIB MiB/s (default 32) and CHARGE_KIB KiB a request (default 48).
 * Prints honest requests answered a second and their waits (p50, p99, max, share past the client's 8 s), and the
 * attackers' requests a second. CHURN: requests a second more, each from a party never seen (a new address each,
 * its own connection); CHURN_HELD (default 4096, `--max-connections-before-login`) of them wait at most, the oldest
 * shed for a newcomer as the login room does. HONEST_ADDRESSES (default HONEST): the honest clients share that many
 * addresses (a NAT: 1).
 */
import { LargeReplyRate } from '../packages/server/src/large-reply-rate.js';
import { mulberry32 } from './lib-random.js';

const [honest = 300, perSecond = 2, attackers = 0, seconds = 60, rateMib = 32, chargeKib = 48, churn = 0, churnHeld = 4096, honestAddresses = honest] = process.argv.slice(2).map(Number);

/** A seeded generator (mulberry32): runs repeat. */
const random = mulberry32(12345);

let now = 0;
/** Pending events, kept sorted by time (few thousand at most). */
const events: { at: number; fn: () => void }[] = [];
const at = (t: number, fn: () => void): void => {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((events[mid] as { at: number }).at <= t) lo = mid + 1;
    else hi = mid;
  }
  events.splice(lo, 0, { at: t, fn });
};

const rate = new LargeReplyRate({ bytesPerSecond: rateMib * 1024 * 1024, perReplyBytes: chargeKib * 1024, now: () => now, schedule: (fn, ms) => at(now + ms, fn) });
const end = seconds * 1000;
const waits: number[] = [];
let attacked = 0;

const ask = (party: string, done: () => void, signal?: AbortSignal): void => {
  const t = rate.request(party, 1, signal);
  if (t === undefined) done();
  else void t.then(done);
};

for (let i = 0; i < honest; i++) {
  const party = `h${i % honestAddresses}`;
  const next = (): void => {
    const sent = now;
    ask(party, () => {
      if (sent >= 2_000 && sent < end) waits.push(now - sent);
      at(now + (-Math.log(1 - random()) * 1000) / perSecond, next);
    });
  };
  at(random() * 1000, next);
}
for (let i = 0; i < attackers; i++) {
  const party = `a${i}`;
  const next = (): void => {
    ask(party, () => {
      if (now >= 2_000 && now < end) attacked++;
      // A round trip later (1 ms), the next.
      at(now + 1, next);
    });
  };
  at(0, next);
}

let churned = 0;
if (churn > 0) {
  let n = 0;
  const held: AbortController[] = [];
  const next = (): void => {
    const c = new AbortController();
    held.push(c);
    if (held.length > churnHeld) held.shift()?.abort();
    ask(
      `c${n++}`,
      () => {
        const at = held.indexOf(c);
        if (at >= 0) held.splice(at, 1);
        if (!c.signal.aborted && now >= 2_000 && now < end) churned++;
      },
      c.signal,
    );
    if (now < end) at(now + 1000 / churn, next);
  };
  at(0, next);
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
while (events.length > 0 && now < end + 10_000) {
  const e = events.shift() as { at: number; fn: () => void };
  now = Math.max(now, e.at);
  e.fn();
  if (events.length === 0 || (events[0] as { at: number }).at > now) await flush();
}

waits.sort((a, b) => a - b);
const q = (p: number): number => waits[Math.min(waits.length - 1, Math.floor(p * waits.length))] ?? 0;
const span = (end - 2_000) / 1000;
console.log(
  `honest ${honest} x ${perSecond}/s, attackers ${attackers}, ${rateMib} MiB/s, ${chargeKib} KiB: honest ${(waits.length / span).toFixed(0)}/s (asked ${((honest * perSecond)).toFixed(0)}), wait p50 ${q(0.5).toFixed(0)} p99 ${q(0.99).toFixed(0)} max ${(waits.at(-1) ?? 0).toFixed(0)} ms, past 8 s ${((100 * waits.filter((w) => w > 8_000).length) / Math.max(1, waits.length)).toFixed(1)} %; attackers ${(attacked / span).toFixed(0)}/s, new parties ${(churned / span).toFixed(0)}/s, parties remembered ${rate.parties}, waiting at the end ${rate.size}`,
);
