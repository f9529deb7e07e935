/**
 * Attack round 16, item 2: what ACK frames cost the server while it sends a
 * large reply (its sent-packet queue full). A logged-in client (mallory, a
 * frame-lib "hostile peer" at 127.0.0.2) keeps two RDTs of a 3.9 MiB thread
 * in flight, its library acknowledging honestly, and meanwhile sends packets
 * of ACK frames of its own making, every claim true (only numbers it
 * received), for `seconds` an angle:
 *
 *   flow     nothing more (the yardstick: the reply's own cost)
 *   pad      PING + padding to 1,200 bytes (an ordinary datagram's cost)
 *   walk     as many one-number ACK frames of the largest received as fit (~170): each makes the sender
 *            look at its packets in flight below that number
 *   ranges   one ACK frame of 256 one-number ranges, every other received number
 *
 *   npx tsx attack/ack-cost.ts [angles=flow,pad,walk,ranges] [seconds=3] [packetsPerSecond=10000]
 *
 * Prints the server's CPU per injected datagram (its CPU over the angle less the flow's rate), the reply
 * bytes the client got a second, and the honest probe's MSG round trips (frame-lib's startProbe).
 */
import { decodeServerMessage, encodeRequest, type Reply, type RequestCommand } from '../packages/forum-protocol/dist/index.js';
import type { PacketWriter } from '../packages/rudp/dist/core.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { cpuMs, hostile, sleep, startTarget, stat } from './frame-lib.js';

const angles = (process.argv[2] ?? 'flow,pad,walk,ranges').split(',');
const seconds = Number(process.argv[3] ?? 3);
const rate = Number(process.argv[4] ?? 10_000);

interface Range {
  readonly lo: number;
  readonly hi: number;
}
const ackFrame = (w: PacketWriter, ranges: readonly Range[]): void => {
  const first = ranges[0] as Range;
  w.u8(2);
  w.varint(first.hi);
  w.varint(0);
  w.varint(ranges.length - 1);
  w.varint(first.hi - first.lo);
  for (let i = 1; i < ranges.length; i++) {
    w.varint((ranges[i - 1] as Range).lo - (ranges[i] as Range).hi - 2);
    w.varint((ranges[i] as Range).hi - (ranges[i] as Range).lo);
  }
};

// mallory attacks; alice is the probe's account.
const target = await startTarget('forum', 'ack-cost', { 'credentials.txt': 'alice pw-alice\nmallory pw-mallory\n', big: largeThreadFile('alice', Math.floor((3.9 * 1024 * 1024) / 4012)) });
const { port, pid, probe } = target;
try {
  const h = await hostile(port, '127.0.0.2');
  const received = (): readonly Range[] => (h.core as unknown as { acks: { received: { list(): readonly Range[] } } }).acks.received.list();
  let replyBytes = 0;
  let id = 0;
  const waiting = new Map<string, (reply: Reply) => void>();
  h.conn.on('message', (bytes: Uint8Array) => {
    replyBytes += bytes.length;
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left' || m.right.type !== 'reply') return;
    waiting.get(m.right.id)?.(m.right);
    waiting.delete(m.right.id);
  });
  const request = (cmd: RequestCommand, args: readonly string[]): Promise<Reply> => {
    const key = String(++id);
    const p = new Promise<Reply>((r) => waiting.set(key, r));
    void h.conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
    return p;
  };
  const u = await request('username', ['mallory']);
  const welcome = await request(u.data.kind === 'auth' ? (u.data.next as RequestCommand) : 'password', ['pw-mallory']);
  if (welcome.lines[0] !== 'Welcome to the forum') throw new Error(`login: ${welcome.lines.join('|')}`);
  // Two RDTs in flight throughout: the server's sent queue stays full.
  let reading = true;
  const reader = async (): Promise<void> => {
    while (reading && h.core.state === 'established') await request('RDT', ['big']);
  };
  void reader();
  void reader();
  await sleep(1000);
  const flowRate = { cpu: 0, ms: 1 };
  const results: string[] = [];
  for (const angle of angles) {
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    const from = Date.now();
    const bytes0 = replyBytes;
    const packets0 = h.core.stat.packetsReceived;
    let sent = 0;
    let largestFrames = 0;
    const end = t0 + seconds * 1000;
    while (performance.now() < end && h.core.state === 'established') {
      const due = angle === 'flow' ? 0 : Math.floor(((performance.now() - t0) * rate) / 1000) - sent;
      const rs = received();
      const top = rs[0];
      for (let i = 0; i < Math.min(due, rate / 10) && top !== undefined; i++) {
        if (angle === 'pad') h.packet((w) => w.u8(1), { size: 1200 });
        else if (angle === 'walk')
          h.packet((w) => {
            let n = 0;
            for (; w.room() > 12; n++) ackFrame(w, [{ lo: top.hi, hi: top.hi }]);
            largestFrames = Math.max(largestFrames, n);
          });
        else if (angle === 'ranges') {
          // Every other received number, one at a time: true claims, the most ranges a frame may carry.
          const singles: Range[] = [];
          for (const r of rs) for (let pn = r.hi; pn >= r.lo && singles.length < 256; pn -= 2) singles.push({ lo: pn, hi: pn });
          h.packet((w) => ackFrame(w, singles));
          largestFrames = singles.length;
        }
        sent++;
      }
      h.flush();
      await sleep(5);
    }
    const elapsed = performance.now() - t0;
    const cpu = cpuMs(pid) - cpu0;
    if (angle === 'flow') {
      flowRate.cpu = cpu;
      flowRate.ms = elapsed;
    }
    const extra = cpu - (flowRate.cpu * elapsed) / flowRate.ms;
    await sleep(100);
    results.push(
      `${angle}: ${sent} datagrams in ${(elapsed / 1000).toFixed(1)} s${angle === 'walk' ? ` (${largestFrames} ACK frames each)` : angle === 'ranges' ? ` (${largestFrames} ranges)` : ''}; server CPU ${((cpu / elapsed) * 100).toFixed(0)} % of a core` +
        (angle === 'flow' ? '' : `, ${sent > 0 ? ((extra * 1000) / sent).toFixed(1) : '-'} µs a datagram over the flow's`) +
        `; the attacker received ${(((h.core.stat.packetsReceived - packets0) * 1000) / elapsed).toFixed(0)} packets/s (${((replyBytes - bytes0) / elapsed / 1000).toFixed(0)} KB/s of whole replies); honest MSG ${stat(probe.between(from, Date.now()))}; connection ${h.core.state}`,
    );
    if (h.core.state !== 'established') break;
  }
  reading = false;
  for (const r of results) console.log(r);
  h.conn.destroy();
} finally {
  await target.stop();
}
