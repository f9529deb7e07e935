/**
 * A model of the chat's tail under independent loss, free of transport
 * detail: packet i carries message i, a repair (a random linear combination)
 * over the recent messages before it on a share `repairShare` of packets, and
 * a copy of message i − 1 on a share `copyShare` (the repair then covering
 * those before), or a second repair over the same messages with coefficients
 * of its own on a share `secondShare`. The receiver solves by rank (ideal
 * decoding), delivers in order, and counts the messages delivered three or
 * more send intervals after they were sent: in the bench's chat (20 ms
 * interval, 35 ms one way) those take ≥ 95 ms, against 0.55 × KCP flush's p99
 * at 10 % loss ≈ 83 ms, so p99 meets that target only while they stay under
 * 1 % of the messages.
 *
 * It shows what the byte budget buys at 10 % loss: with one repair per packet
 * (what rudp sends) 1.3 % are that late (the bench: 1.2 %, 74 of 6,000 per
 * seed over seeds 1-12); copies take even this ideal decoder under 1 % only
 * from a share of about 0.3 (the bench needs about 0.5: `rudp-copy` at share
 * 0.5 gives p99 0.53 × KCP flush's at 1.08 × its wire bytes), and fewer
 * repairs with more copies (the same symbols per packet) are worse. A second
 * repair instead of the copy does about as well (0.3 each: 0.95 % against
 * 0.98 %). Nor does it help to move the one repair: with one symbol per packet
 * a message lost beside the next one (packet i + 2 must rebuild it without
 * message i + 1) and one lost beside the one after next (packet i + 1 must
 * rebuild it) cannot both be met, whichever messages the symbol covers; a
 * repair that leaves the newest message out meets the first case and misses
 * the second (1.46 %). A lost message's resend is modelled as arriving
 * `RESEND_INTERVALS` after it was sent.
 *
 * Usage (from bench/): node --import tsx src/tools/repair-deadline-model.ts [loss=0.1] [runs=6]
 */

const loss = Number(process.argv[2] ?? '0.1');
const runs = Number(process.argv[3] ?? '6');
const MESSAGES = 6_000;
/** A prime field large enough that random combinations are independent but for 1 in 65,521. */
const P = 65_521;
/** Messages a repair reaches back (the unacknowledged ones within about a round trip). */
const WINDOW = 6;
/** Send intervals after which a message no repair rebuilt arrives by its resend (~140 ms in the chat). */
const RESEND_INTERVALS = 7;

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function inverse(x: number): number {
  let r = 1;
  let b = x % P;
  for (let e = P - 2; e > 0; e >>= 1) {
    if (e & 1) r = (r * b) % P;
    b = (b * b) % P;
  }
  return r;
}

/** Delivery delay of each message, in send intervals. */
/** Symbols per packet: shares of packets with a repair, a copy of the previous message, a second repair; `skipNewest`: repairs leave message i − 1 out. */
interface Plan {
  readonly repairShare: number;
  readonly copyShare: number;
  readonly secondShare: number;
  readonly skipNewest: boolean;
}

function simulate(seed: number, { repairShare, copyShare, secondShare, skipNewest }: Plan): number[] {
  const rnd = prng(seed);
  const n = MESSAGES + 10;
  const lost = Array.from({ length: n }, () => rnd() < loss);
  const known = new Set<number>();
  /** Reduced equations over unknown messages: pivot → coefficients (pivot's is 1). */
  const rows = new Map<number, Map<number, number>>();
  const decodedAt: number[] = new Array<number>(n).fill(Number.POSITIVE_INFINITY);
  let repairCredit = 0;
  let copyCredit = 0;
  let secondCredit = 0;
  const learn = (id: number, at: number): void => {
    if (known.has(id)) return;
    known.add(id);
    decodedAt[id] = Math.min(decodedAt[id] as number, at);
  };
  const addEquation = (coefs: Map<number, number>, at: number): void => {
    for (const id of [...coefs.keys()]) if (known.has(id)) coefs.delete(id);
    for (const [pivot, row] of rows) {
      const f = coefs.get(pivot);
      if (f === undefined) continue;
      for (const [id, c] of row) {
        const v = ((coefs.get(id) ?? 0) - ((f * c) % P) + P) % P;
        if (v === 0) coefs.delete(id);
        else coefs.set(id, v);
      }
    }
    if (coefs.size === 0) return;
    const pivot = Math.min(...coefs.keys());
    const inv = inverse(coefs.get(pivot) as number);
    for (const [id, c] of coefs) coefs.set(id, (c * inv) % P);
    for (const row of rows.values()) {
      const f = row.get(pivot);
      if (f === undefined) continue;
      for (const [id, c] of coefs) {
        const v = ((row.get(id) ?? 0) - ((f * c) % P) + P) % P;
        if (v === 0) row.delete(id);
        else row.set(id, v);
      }
    }
    rows.set(pivot, coefs);
    harvest(at);
  };
  const harvest = (at: number): void => {
    for (let again = true; again; ) {
      again = false;
      for (const [pivot, row] of rows) {
        for (const id of [...row.keys()]) if (id !== pivot && known.has(id)) row.delete(id);
        if (row.size === 1) {
          rows.delete(pivot);
          learn(pivot, at);
          again = true;
        }
      }
    }
  };
  for (let i = 0; i < n; i++) {
    copyCredit += copyShare;
    const copy = copyCredit >= 1 - 1e-9 && i > 0 ? i - 1 : -1;
    if (copy >= 0) copyCredit -= 1;
    repairCredit += repairShare;
    const repair = repairCredit >= 1 - 1e-9;
    if (repair) repairCredit -= 1;
    secondCredit += secondShare;
    const second = secondCredit >= 1 - 1e-9;
    if (second) secondCredit -= 1;
    // Coefficients are drawn whether or not the packet arrives, so the draws do not depend on losses.
    const newest = skipNewest ? i - 1 : i;
    const coefs = new Map<number, number>();
    for (let j = Math.max(0, i - WINDOW); j < newest; j++) if (j !== copy) coefs.set(j, 1 + Math.floor(rnd() * (P - 1)));
    const coefs2 = new Map<number, number>();
    if (second) for (let j = Math.max(0, i - WINDOW); j < i; j++) coefs2.set(j, 1 + Math.floor(rnd() * (P - 1)));
    if (lost[i]) continue;
    learn(i, i);
    if (copy >= 0) learn(copy, i);
    harvest(i);
    if (repair && coefs.size > 0) addEquation(coefs, i);
    if (coefs2.size > 0) addEquation(coefs2, i);
  }
  const delays: number[] = [];
  let deliveredUpTo = 0;
  for (let k = 0; k < MESSAGES; k++) {
    // One no repair rebuilds is resent: about seven send intervals after it was first sent.
    deliveredUpTo = Math.max(deliveredUpTo, Math.min(decodedAt[k] as number, k + RESEND_INTERVALS));
    delays.push(deliveredUpTo - k);
  }
  return delays;
}

const plan = (repairShare: number, copyShare: number, secondShare = 0, skipNewest = false): Plan => ({ repairShare, copyShare, secondShare, skipNewest });
const plans: readonly Plan[] = [
  plan(1, 0),
  plan(1, 0.1),
  plan(1, 0.2),
  plan(1, 0.3),
  plan(1, 0.4),
  plan(1, 0.5),
  plan(1, 1),
  plan(0.8, 0.45),
  plan(0.7, 0.55),
  plan(0.5, 0.75),
  plan(1, 0, 0.1),
  plan(1, 0, 0.2),
  plan(1, 0, 0.3),
  plan(1, 0, 0.5),
  plan(1, 0, 0, true),
];
console.log(`loss ${loss}, ${runs} runs of ${MESSAGES} messages: share of messages delivered ≥ 3 send intervals late (ideal decoding, in order)`);
for (const p of plans) {
  let late = 0;
  let total = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const delays = simulate(seed, p);
    late += delays.filter((d) => d >= 3).length;
    total += delays.length;
  }
  const second = p.secondShare > 0 ? ` + second repairs ${p.secondShare.toFixed(2)}` : '';
  const copies = p.secondShare > 0 ? '' : ` + copies ${p.copyShare.toFixed(2)}`;
  console.log(`repairs ${p.repairShare.toFixed(2)}${p.skipNewest ? ' (leaving the newest message out)' : ''}${copies}${second} symbols per packet: ${((100 * late) / total).toFixed(2)} %`);
}
