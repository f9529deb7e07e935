/**
 * Where the simulated chat's tail latency and wire bytes come from (rudp,
 * plaintext so the frames can be read; its timing is the encrypted one's).
 * Runs the chat scenario with every datagram logged, then prints:
 * - the wire bytes per message by datagram kind and frame type;
 * - the slowest 1 % (and 2 %) of messages by cause: rebuilt from repairs
 *   (after how many packets), carried by a copy or a resend (sent how long
 *   after the message), or whole in time but held behind an earlier one.
 *
 * Usage (from bench/): node --import tsx src/tools/chat-anatomy.ts [loss=0.1] [seeds=1,2,3,4,5] [burst]
 * Environment: TARGET=ms (the latency the second tally counts above, default 82.5: 0.55 × KCP
 * flush's p99 at 10 % loss), COPY_SHARE=x (a fixed `redundancy.previousCopyShare`), TRACE=n (print
 * the packets around the first n messages later than TARGET, or with TRACE_KIND=useless-resend
 * those resent after they were delivered; TRACE_AFTER=ms: how long after delivery to print).
 */
import { ackFrameSize, type Frame } from 'rudpx/core';
import { parsePayload, makePayload } from '../integrity/payload.js';
import type { MessageEndpoint } from '../peers/message-endpoint.js';
import { loadRudp } from '../peers/rudp-endpoint.js';
import type { SystemFactory, SystemId } from '../peers/systems.js';
import { CHAT } from '../scenarios/chat.js';
import { BASE_LINK } from '../scenarios/link-variants.js';
import type { RandomSource } from '../lib/rudp-imports.js';
import { SimPair } from '../sim/sim-pair.js';
import { carriersByMessage, tailClassifier, Tap, type MessageFate, type PacketLog, scheduleChat } from './chat-tap.js';

const loss = Number(process.argv[2] ?? '0.1');
const seeds = (process.argv[3] ?? '1,2,3,4,5').split(',').map(Number);
const burst = process.argv[4] === 'burst';
const system: SystemId = 'rudp-plain';
/** `COPY_SHARE`: a fixed `redundancy.previousCopyShare` instead of the default curve. */
const copyShare = process.env['COPY_SHARE'];

const loaded = await loadRudp();
if (loaded === undefined) throw new Error('rudp is not built (pnpm build)');
const rudp = loaded;

function runOne(seed: number): { packets: PacketLog[]; messages: MessageFate[] } {
  const log = new Map<string, PacketLog>();
  const all: PacketLog[] = [];
  const factory = {
    create(_s: SystemId, random: RandomSource, acceptIncoming: boolean): MessageEndpoint {
      const inner = rudp.createEndpoint(random, acceptIncoming, true, copyShare === undefined ? {} : { previousCopyShare: Number(copyShare) });
      return new Tap(inner, acceptIncoming ? 'server' : 'client', log, all);
    },
  } as unknown as SystemFactory;
  const n = Math.floor(CHAT.durationMs / CHAT.intervalMs);
  const fates = new Map<string, MessageFate>();
  const link = burst ? { ...BASE_LINK, loss, burst: { meanBurstLength: 3 } } : { ...BASE_LINK, loss };
  const pair: SimPair = new SimPair({
    factory,
    system,
    link,
    seed,
    onMessage: (side, data, now) => {
      const p = parsePayload(data);
      if (!p) throw new Error('corrupt');
      const f = fates.get(`${side === 'server' ? 'client' : 'server'}:${p.seq}`);
      if (f) f.deliveredAt = now;
    },
    onEstablished: (now) => {
      scheduleChat(pair, now, n, fates);
    },
  });
  pair.connect();
  pair.send('client', makePayload(0, CHAT.messageBytes));
  pair.sim.runFor(CHAT.durationMs + 20_000);
  return { packets: all, messages: [...fates.values()] };
}

const pct = (x: number, total: number): string => `${((100 * x) / total).toFixed(2)}%`;

function frameBytes(f: Frame): number {
  switch (f.type) {
    case 'fragment':
      return f.data.length + 4;
    case 'repair':
      return f.symbol.length + 5;
    default:
      return 0;
  }
}

for (const seed of seeds) {
  const { packets, messages } = runOne(seed);
  const lat = messages.map((m) => m.deliveredAt - m.sentAt).sort((a, b) => a - b);
  const p99 = lat[Math.floor(0.99 * (lat.length - 1))] as number;
  const p98 = lat[Math.floor(0.98 * (lat.length - 1))] as number;
  console.log(`\n=== seed ${seed} loss ${loss}${burst ? ' burst' : ''}: ${messages.length} messages, p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(1)} p98 ${p98.toFixed(1)} p99 ${p99.toFixed(1)} max ${lat.at(-1)?.toFixed(1)}`);
  // Bytes.
  const chatStart = Math.min(...messages.map((m) => m.sentAt));
  const inChat = packets.filter((p) => p.sentAt >= chatStart);
  let total = 0;
  let ackOnly = 0;
  let ackOnlyBytes = 0;
  let fragBytes = 0;
  let repairBytes = 0;
  let repeatBytes = 0;
  let repeats = 0;
  const seenSeq = new Set<string>();
  for (const p of inChat) {
    total += p.size + 28;
    const eliciting = p.frames.some((f) => f.type !== 'ack' && f.type !== 'message-ack' && f.type !== 'close');
    if (!eliciting) {
      ackOnly++;
      ackOnlyBytes += p.size + 28;
    }
    for (const f of p.frames) {
      if (f.type === 'repair') repairBytes += frameBytes(f);
      if (f.type === 'fragment') {
        const ps = parsePayload(f.data);
        const key = `${p.from}:${ps?.seq}`;
        if (seenSeq.has(key)) {
          repeats++;
          repeatBytes += frameBytes(f);
        } else {
          seenSeq.add(key);
          fragBytes += frameBytes(f);
        }
      }
    }
  }
  const nm = messages.length;
  let ackBytes = 0;
  let acks = 0;
  let ranges = 0;
  let mas = 0;
  for (const p of inChat) {
    for (const f of p.frames) {
      if (f.type === 'ack') {
        acks++;
        ackBytes += ackFrameSize(f.ranges, f.delayMicros);
        ranges += f.ranges.length;
      }
      if (f.type === 'message-ack') mas++;
    }
  }
  console.log(`ack frames ${acks} (${(acks / inChat.length).toFixed(2)}/dgram), ${(ackBytes / acks).toFixed(2)} B each, ${(ranges / acks).toFixed(2)} ranges; ${(ackBytes / nm).toFixed(1)} B/msg; message-acks ${mas}`);
  // IPv4 + UDP, then rudp's plaintext header (7 bytes with a two-byte packet number) and checksum.
  const headerBytes = inChat.length * (28 + 7 + 4);
  console.log(
    `bytes/msg: total ${(total / nm).toFixed(1)} = headers ${(headerBytes / nm).toFixed(1)} (${(inChat.length / nm).toFixed(3)} dgrams/msg) + first ${(fragBytes / nm).toFixed(1)} + repairs ${(repairBytes / nm).toFixed(1)} + repeats ${(repeatBytes / nm).toFixed(1)} (${repeats}) + other ${((total - headerBytes - fragBytes - repairBytes - repeatBytes) / nm).toFixed(1)}; ack-only dgrams ${ackOnly} (${(ackOnlyBytes / nm).toFixed(1)} B/msg)`,
  );
  // Causes of the tail.
  const bySide = carriersByMessage(packets);
  const classify = tailClassifier(packets, bySide);
  const target = Number(process.env['TARGET'] ?? '82.5');
  for (const [label, cut] of [
    ['slowest 1%', p99],
    [`over ${target} ms`, target],
  ] as const) {
    const slow = messages.filter((m) => m.deliveredAt - m.sentAt >= cut);
    const causes = new Map<string, number>();
    for (const m of slow) causes.set(classify(m), (causes.get(classify(m)) ?? 0) + 1);
    const early = [250, 500, 1000, 2000].map((t) => `${slow.filter((m) => m.sentAt - chatStart < t).length} in first ${t} ms`).join(', ');
    console.log(`${label} (≥ ${cut.toFixed(1)} ms, ${slow.length} msgs, ${slow.filter((m) => m.from === 'client').length} client→server; ${early}):`);
    for (const [c, k] of [...causes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(k).padStart(4)} ${pct(k, slow.length).padStart(7)}  ${c}`);
  }
  // Repeats (copies and resends) by whether they did any good.
  let useless = 0;
  let uselessLate = 0;
  let repeatsAll = 0;
  const repeatKinds = new Map<string, number>();
  const fateOf = new Map(messages.map((m) => [`${m.from}:${m.seq}`, m]));
  for (const [k, l] of bySide) {
    const m = fateOf.get(k);
    if (m === undefined) continue;
    for (const c of l.slice(1)) {
      repeatsAll++;
      const kind = `${c.sentAt - m.sentAt < 45 ? 'copy' : 'resend'} ${c.arrivedAt !== undefined && c.arrivedAt <= m.deliveredAt ? 'useful' : 'useless'}`;
      repeatKinds.set(kind, (repeatKinds.get(kind) ?? 0) + 1);
      if (c.arrivedAt === undefined || c.arrivedAt > m.deliveredAt) useless++;
      if (c.sentAt >= m.deliveredAt) uselessLate++;
    }
  }
  console.log(`repeats ${repeatsAll}: no use ${useless} (sent after delivery ${uselessLate}); ${[...repeatKinds].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (process.env['TRACE'] !== undefined) {
    const uselessResend = (m: MessageFate): boolean => (bySide.get(`${m.from}:${m.seq}`) ?? []).slice(1).some((c) => c.sentAt - m.sentAt >= 45 && c.sentAt >= m.deliveredAt);
    const pick = process.env['TRACE_KIND'] === 'useless-resend' ? uselessResend : (m: MessageFate) => m.deliveredAt - m.sentAt >= target;
    const slow = messages.filter(pick).slice(0, Number(process.env['TRACE']));
    const seqOfId = new Map<string, number>();
    for (const p of packets) {
      for (const f of p.frames) {
        const ps = f.type === 'fragment' ? parsePayload(f.data) : undefined;
        if (f.type === 'fragment' && ps) seqOfId.set(`${p.from}:${f.messageId}`, ps.seq);
      }
    }
    for (const m of slow) {
      console.log(`-- ${m.from} seq ${m.seq} sent ${m.sentAt.toFixed(1)} delivered +${(m.deliveredAt - m.sentAt).toFixed(1)}: ${classify(m)}`);
      for (const p of packets) {
        if (p.sentAt < m.sentAt - 45 || p.sentAt > m.deliveredAt + Number(process.env['TRACE_AFTER'] ?? '10')) continue;
        const desc = p.frames.map((f) => {
          switch (f.type) {
            case 'fragment':
              return `M${parsePayload(f.data)?.seq}`;
            case 'repair':
              return `R[${seqOfId.get(`${p.from}:${f.baseId}`)}+${f.count}]`;
            case 'ack':
              return `A${f.ranges[0]?.hi}${f.ranges.length > 1 ? `(${f.ranges.length})` : ''}`;
            case 'message-ack':
              return `MA${f.next}`;
            default:
              return f.type;
          }
        }).join(' ');
        console.log(`   ${p.from === m.from ? '>>' : '  <<'} pn ${p.pn} +${(p.sentAt - m.sentAt).toFixed(1)} ${p.arrivedAt === undefined ? 'LOST' : `arr +${(p.arrivedAt - m.sentAt).toFixed(1)}`} ${desc}`);
      }
    }
  }
  const lostFirst = messages.filter((m) => {
    const c = bySide.get(`${m.from}:${m.seq}`)?.[0];
    return c !== undefined && c.arrivedAt === undefined;
  }).length;
  console.log(`messages whose first packet was lost: ${pct(lostFirst, nm)}`);
}
