/**
 * Attack round 16, item 3: an attacker on the path (reads, drops, delays,
 * replays, injects; no keys) between a logged-in client and the built
 * forum-server, through lib-bottleneck.ts's relay (whose upstream socket is
 * the client's address as the server sees it: a datagram "replayed from the
 * client's address" is sent from there, as a forger of that source would).
 *
 *   npx tsx attack/onpath.ts replay [perSecond=2000] [seconds=2]
 *     records the client's datagrams from its first (the handshake) through login and an RDT, then
 *     replays, each at `perSecond` for `seconds`: its first INITIAL (no cookie), its INITIAL with the
 *     cookie (while the session lives; again after it ended: the cookie spent), and all its protected
 *     packets in turn. Per kind: what the server answered (datagrams, bytes, ratio to the bytes replayed:
 *     the amplification to the forged source), its CPU per replayed datagram over its idle rate, what it
 *     logged, and whether the session went on (an MSG answered after).
 *   npx tsx attack/onpath.ts migrate [seconds=5] [rateKBps=1000]
 *     while the server sends RDTs of a 3.9 MiB thread, every client datagram is also sent from a victim's
 *     address, 5 ms ahead of the genuine copy (a forged source racing the client's): what the server sent
 *     the victim against what came from its address, and whether the reply goes on.
 *   npx tsx attack/onpath.ts redirect [seconds=5] [rateKBps=1000]
 *     the same, but the client's datagrams reach the server from the victim's address only (the attacker
 *     rewrites their source: to the server, a NAT rebinding to the victim), then the genuine path again.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, session } from './forum-raw.js';
import { cpuMs } from './frame-lib.js';
import { startBottleneck } from './lib-bottleneck.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';

const mode = process.argv[2] ?? 'replay';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'a16-onpath-'));
await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\n');
await writeFile(join(dir, 'big'), largeThreadFile('alice', Math.floor((3.9 * 1024 * 1024) / 4012)));
await writeFile(join(dir, 'small'), 'alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);
const pid = server.child.pid as number;
const logSince = (at: number): string => JSON.stringify(server.out.slice(at).trim().split('\n').filter((l) => l !== '').slice(-3).join(' | ') || '(nothing)');

/** Sends `ds` in turn from the relay's upstream socket, `perSecond` a second for `seconds`; the server's answers and CPU. */
const replay = async (relay: Awaited<ReturnType<typeof startBottleneck>>, ds: readonly Uint8Array[], perSecond: number, seconds: number): Promise<string> => {
  await sleep(300);
  relay.mark();
  const idle0 = cpuMs(pid);
  await sleep(1000);
  const idleRate = (cpuMs(pid) - idle0) / 1000;
  relay.mark();
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  let sent = 0;
  let bytes = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) * perSecond) / 1000) - sent;
    for (let i = 0; i < due; i++) {
      const d = ds[sent % ds.length] as Uint8Array;
      relay.inject(d);
      bytes += d.length;
      sent++;
    }
    await sleep(5);
  }
  await sleep(300);
  const elapsed = performance.now() - t0;
  const c = relay.mark();
  const cpu = cpuMs(pid) - cpu0 - idleRate * elapsed;
  return `${sent} datagrams (${bytes} B) sent: answered ${c.offeredDatagrams} datagrams, ${c.offeredBytes} B (${(c.offeredBytes / bytes).toFixed(4)} of the bytes replayed); server CPU ${((cpu * 1000) / sent).toFixed(1)} µs a replayed datagram over its idle rate`;
};

try {
  if (mode === 'replay') {
    const perSecond = Number(process.argv[3] ?? 2000);
    const seconds = Number(process.argv[4] ?? 2);
    const relay = await startBottleneck(port, { rateBytesPerS: 50e6, queueBytes: 4 << 20, delayMs: 1 });
    relay.recording = true;
    const ac = new AbortController();
    const s = await session(relay.port, 'alice', ac.signal);
    await s.request('RDT', ['small']);
    await s.request('MSG', ['small', 'recorded']);
    relay.recording = false;
    const rec = [...relay.recorded];
    const kinds = rec.map((d) => ((d[0] as number) & 0x0f).toString(16));
    console.log(`recorded ${rec.length} client datagrams (type nibbles ${kinds.join(' ')}; sizes ${rec.map((d) => d.length).join(' ')})`);
    const msgWorks = async (): Promise<string> => {
      const t = performance.now();
      return Promise.race([s.request('MSG', ['small', 'after']).then((x) => `${x.lines.join('|')} in ${(performance.now() - t).toFixed(0)} ms`), sleep(15_000).then(() => 'no answer in 15 s')]);
    };
    // The client sends each handshake packet more than once: the cookie's INITIAL is the first unlike the first.
    const first = rec[0] as Buffer;
    const cookieAt = rec.findIndex((d) => !d.equals(first));
    const protectedAt = rec.findIndex((d) => ((d[0] as number) & 0x0f) !== 1);
    let at = server.out.length;
    console.log(`MSG before: ${await msgWorks()}`);
    console.log(`[first INITIAL, session live] ${await replay(relay, rec.slice(0, 1), perSecond, seconds)}; log ${logSince(at)}; MSG after: ${await msgWorks()}`);
    at = server.out.length;
    console.log(`[INITIAL with cookie, session live] ${await replay(relay, rec.slice(cookieAt, cookieAt + 1), perSecond, seconds)}; log ${logSince(at)}; MSG after: ${await msgWorks()}`);
    at = server.out.length;
    console.log(`[protected packets of the session, in turn, session live] ${await replay(relay, rec.slice(protectedAt), perSecond, seconds)}; log ${logSince(at)}; MSG after: ${await msgWorks()}`);
    at = server.out.length;
    await s.request('XIT', []).catch(() => undefined);
    ac.abort();
    await sleep(1000);
    console.log(`[INITIAL with cookie, session ended] ${await replay(relay, rec.slice(cookieAt, cookieAt + 1), perSecond, seconds)}; log ${logSince(at)}`);
    relay.close();
  } else if (mode === 'migrate' || mode === 'redirect') {
    const seconds = Number(process.argv[3] ?? 5);
    const rate = Number(process.argv[4] ?? 1000);
    const relay = await startBottleneck(port, { rateBytesPerS: rate * 1000, queueBytes: 64 << 10, delayMs: 10 });
    const ac = new AbortController();
    const s = await session(relay.port, 'alice', ac.signal);
    let ended = '';
    s.conn.on('close', () => (ended ||= 'closed'));
    const replies = [s.request('RDT', ['big']), s.request('RDT', ['big']), s.request('RDT', ['big'])].map((p) => p.then((r) => r.lines.length, () => -1));
    await sleep(1000);
    const before = relay.mark();
    const at = server.out.length;
    if (mode === 'migrate') relay.raceFromVictimMs = 5;
    else relay.victimOnly = true;
    await sleep(seconds * 1000);
    relay.raceFromVictimMs = 0;
    relay.victimOnly = false;
    const during = relay.mark();
    await sleep(3000);
    const after = relay.mark();
    const lines = await Promise.race([Promise.all(replies), sleep(30_000).then(() => undefined)]);
    console.log(
      `[${mode}] before (1 s): server offered the client ${(before.offeredBytes / 1000).toFixed(0)} KB. ` +
        `During ${seconds} s of ${mode === 'migrate' ? 'a racing forged source' : 'every client datagram from the victim only'}: ${during.fromVictimBytes} B sent from the victim's address, the server sent the victim ${during.toVictimDatagrams} datagrams, ${during.toVictimBytes} B (${(during.toVictimBytes / Math.max(1, during.fromVictimBytes)).toFixed(3)} of what came from it); the client was offered ${(during.offeredBytes / 1000).toFixed(0)} KB (${(during.offeredBytes / seconds / 1000).toFixed(0)} KB/s). ` +
        `3 s after: the victim got ${after.toVictimDatagrams} more, the client ${(after.offeredBytes / 1000).toFixed(0)} KB; replies ${lines === undefined ? 'not all in 30 s' : lines.join(', ')} lines; ended: ${ended || 'no'}; log ${logSince(at)}`,
    );
    ac.abort();
    relay.close();
  }
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
