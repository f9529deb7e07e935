import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, type ExpectStatic } from 'vitest';
import { cleanup, isServerOwnFile, itWithFixture, startServer, tempDir, type ServerProc } from './forum-processes.js';
import { rawClient, rawLogin, sealedExchange, tcpExchange, type RawClient } from './raw-client.js';
import { largeThreadFile } from './large-thread.js';

/** A test's server, its data directory and the raw clients it opened: all ended after the test. */
class ProtocolFixture {
  /** Set by {@link start}, which every test calls first. */
  server!: ServerProc;
  data = '';
  readonly clients: RawClient[] = [];

  /** Starts the server with `args`, after `prepare` has written what it needs into the data directory. */
  async start(args: readonly string[] = [], prepare?: (dir: string) => Promise<void>): Promise<void> {
    this.data = await tempDir('proto');
    await prepare?.(this.data);
    this.server = await startServer(this.data, args);
  }

  async open(): Promise<RawClient> {
    const c = await rawClient(this.server.port);
    this.clients.push(c);
    return c;
  }

  async loggedIn(username: string): Promise<RawClient> {
    const c = await this.open();
    await rawLogin(c, username, 'pw');
    return c;
  }

  /**
   * Ten LSTs of no threads at once from each of `flooders`, and one from another host (127.0.0.2, logged in as
   * `obi`) right after: every reply as the spec says; when the flood started, its last reply came, and the other's.
   */
  async floodBesideAnotherHost(flooders: readonly RawClient[], expect: ExpectStatic): Promise<{ started: number; last: number; elsewhereAt: number }> {
    const elsewhere = await rawClient(this.server.port, { localAddress: '127.0.0.2' });
    this.clients.push(elsewhere);
    await rawLogin(elsewhere, 'obi', 'pw');
    const started = performance.now();
    const replies = flooders.flatMap((c, k) => Array.from({ length: 10 }, (_, i) => c.request(`f${k}-${i}`, 'LST', []).then((r) => ({ r, at: performance.now() }))));
    const mine = await elsewhere.request('o', 'LST', []);
    const elsewhereAt = performance.now();
    const done = await Promise.all(replies);
    expect(mine.lines).toEqual(['No threads to list']);
    expect(done.every((d) => d.r.lines[0] === 'No threads to list')).toBe(true);
    return { started, last: Math.max(...done.map((d) => d.at)), elsewhereAt };
  }

  async end(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    await (this.server as ServerProc | undefined)?.stop();
    if (this.data !== '') await cleanup(this.data);
  }
}

const it = itWithFixture(() => new ProtocolFixture());

// Concurrent: each test on a server of its own (its fixture); the --request-rate tests mostly wait for their turns.
describe.concurrent('forum-server protocol guarantees (raw rudp and TCP clients)', () => {
  it('the username field is never trusted: the session user acts', async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    const before = await c.request('1', 'CRT', ['spoof'], 'yoda');
    expect(before.lines).toEqual(['Please log in first']);
    expect((await rawLogin(c, 'obi', 'pw')).lines).toEqual(['Welcome to the forum']);
    expect((await c.request('2', 'CRT', ['t'], 'yoda')).lines).toEqual(['Thread t created']);
    expect((await c.request('3', 'MSG', ['t', 'hi'], 'yoda')).lines).toEqual(['Message posted to t thread']);
    expect(await readFile(join(f.data, 't'), 'utf8')).toBe('obi\n1 obi: hi\n');
    expect(f.server.lines()).toContain('obi issued CRT command');
    expect(f.server.lines()).not.toContain('yoda issued CRT command');
  });

  it('a repeated request id is executed once and answered with the first reply', async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    await rawLogin(c, 'yoda', 'pw');
    await c.request('c', 'CRT', ['t'], 'yoda');
    const first = await c.request('m', 'MSG', ['t', 'once'], 'yoda');
    const again = await c.request('m', 'MSG', ['t', 'once'], 'yoda');
    expect(again).toEqual(first);
    expect(await readFile(join(f.data, 't'), 'utf8')).toBe('yoda\n1 yoda: once\n');
    expect(f.server.lines().filter((l) => l === 'yoda issued MSG command')).toHaveLength(1);
  });

  it('a repeated read (RDT, LST) runs again and answers with what is there now, not a cached copy', async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    await rawLogin(c, 'yoda', 'pw');
    await c.request('c', 'CRT', ['t'], 'yoda');
    expect((await c.request('r', 'RDT', ['t'], 'yoda')).lines).toEqual(['Thread t is empty']);
    await c.request('m', 'MSG', ['t', 'later'], 'yoda');
    expect((await c.request('r', 'RDT', ['t'], 'yoda')).lines).toEqual(['1 yoda: later']);
    // The log line may reach our pipe after the reply reached the client: wait for both (failed once under load).
    await f.server.stdout.waitForMatch(/yoda issued RDT command\n(?:[^\n]*\n)*?yoda issued RDT command\n/);
    expect(f.server.lines().filter((l) => l === 'yoda issued RDT command')).toHaveLength(2);
  });

  it('a malformed message gets an error reply and a log line; the server keeps serving', async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    const garbage = await c.sendRaw(new Uint8Array([0xff, 0xfe, 0x00, 0x7b]));
    expect(garbage).toMatchObject({ type: 'reply', status: 'error', lines: ['Malformed request'] });
    const badSchema = await c.sendRaw(new TextEncoder().encode(JSON.stringify({ id: '9', cmd: 'DROP', args: [] })));
    expect(badSchema).toMatchObject({ type: 'reply', id: '9', status: 'error', lines: ['Malformed request'] });
    // The log line may reach our pipe after the reply reached the client: wait for both (found under load).
    await f.server.stdout.waitForMatch(/Malformed request: [^\n]*\n(?:[^\n]*\n)*?Malformed request: /);
    expect(f.server.lines().filter((l) => l.startsWith('Malformed request: '))).toHaveLength(2);
    expect((await rawLogin(c, 'yoda', 'pw')).lines).toEqual(['Welcome to the forum']);
  });

  it("a malformed request's log line shows its control characters, never writes them to the operator's terminal", async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    // JSON.parse's error quotes the request (whole up to 20 characters, else 10 from the error):
    // ESC[1A ESC[2K erases the log line above, OSC 0 sets the title, ESC[3J clears the scrollback,
    // and a newline starts a line of the client's own.
    const hostile = ['\x1b[1A\x1b[2K', '\x1b]0;pwned\x07\x1b[3J', 'x\nyoda exited'];
    for (const text of hostile) {
      expect(await c.sendRaw(new TextEncoder().encode(text))).toMatchObject({ status: 'error', lines: ['Malformed request'] });
    }
    await f.server.stdout.waitForMatch(/(?:Malformed request: [^\n]*\n(?:[^\n]*\n)*?){3}/);
    expect(f.server.stdout.text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(f.server.lines().filter((l) => l.startsWith('Malformed request: '))).toEqual([
      `Malformed request: message is not JSON: Unexpected token '<U+001B>', "<U+001B>[1A<U+001B>[2K" is not valid JSON`,
      `Malformed request: message is not JSON: Unexpected token '<U+001B>', "<U+001B>]0;pwned<U+0007><U+001B>[3J" is not valid JSON`,
      `Malformed request: message is not JSON: Unexpected token 'x', "x<U+000A>yoda exited" is not valid JSON`,
    ]);
    expect(f.server.lines().some((l) => l.startsWith('yoda exited'))).toBe(false);
  });

  it('transfer tokens: wrong, reused and missing tokens are refused; broken or oversized uploads leave no file', async ({ f, expect }) => {
    await f.start();
    const c = await f.open();
    await rawLogin(c, 'yoda', 'pw');
    await c.request('c', 'CRT', ['t'], 'yoda');

    expect(await tcpExchange(f.server.tcpPort, Buffer.from(`${randomBytes(32).toString('hex')}\n3\nabc`))).toBe('ERR invalid or expired token\n');
    expect(await tcpExchange(f.server.tcpPort, Buffer.from('not a token\n'))).toBe('');

    const upd = async (id: string, name: string): Promise<string> => {
      const r = await c.request(id, 'UPD', ['t', name], 'yoda');
      if (r.data.kind !== 'transfer') throw new Error(JSON.stringify(r));
      expect(r.data.port).toBe(f.server.tcpPort);
      return r.data.token;
    };

    // A connection that breaks off mid-body: nothing is stored.
    const broken = await upd('u1', 'f');
    await new Promise<void>((resolve) => {
      const s = net.connect({ port: f.server.tcpPort, host: '127.0.0.1' }, () => {
        s.write(`${broken}\n1000\n${'x'.repeat(10)}`, () => setTimeout(() => s.destroy(), 50));
      });
      s.on('close', () => resolve());
      s.on('error', () => undefined);
    });
    // More bytes than announced: refused, nothing stored.
    const oversized = await upd('u2', 'f');
    expect(await sealedExchange(f.server.tcpPort, c, oversized, '3\nabcdef')).toBe('ERR more than 3 bytes sent\n');
    // Fewer bytes than announced, cleanly closed: refused.
    const short = await upd('u3', 'f');
    expect(await sealedExchange(f.server.tcpPort, c, short, '5\nab')).toBe('ERR only 2 of 5 bytes arrived\n');
    const good = await upd('u4', 'f');
    // The spent tokens are refused even though they were valid once.
    expect(await sealedExchange(f.server.tcpPort, c, oversized, '3\nabc')).toBe('ERR invalid or expired token\n');
    expect((await readdir(f.data)).filter((n) => !isServerOwnFile(n)).sort()).toEqual(['credentials.txt', 't']);
    // The old plaintext form (size and bytes unsealed) no longer works: nothing is stored, nothing answered.
    const plain = await upd('u5', 'f');
    expect(await tcpExchange(f.server.tcpPort, Buffer.from(`${plain}\n3\nabc`))).toBe('');
    expect(await sealedExchange(f.server.tcpPort, c, good, '3\nabc')).toBe('OK\n');
    expect(await sealedExchange(f.server.tcpPort, c, good, '3\nabc')).toBe('ERR invalid or expired token\n');
    expect((await readdir(f.data)).filter((n) => !isServerOwnFile(n)).sort()).toEqual(['credentials.txt', 't', 't-f']);
    expect(await readFile(join(f.data, 't'), 'utf8')).toBe('yoda\nyoda uploaded f\n');
    expect(await readFile(join(f.data, 't-f'), 'utf8')).toBe('abc');

    const dwn = await c.request('d1', 'DWN', ['t', 'f'], 'yoda');
    if (dwn.data.kind !== 'transfer') throw new Error(JSON.stringify(dwn));
    expect(dwn.data.size).toBe(3);
    expect(await sealedExchange(f.server.tcpPort, c, dwn.data.token, '')).toBe('OK 3\nabc');
    expect(await sealedExchange(f.server.tcpPort, c, dwn.data.token, '')).toBe('ERR invalid or expired token\n');
  });

  it('--request-rate 0 (no pacing) still answers every request', async ({ f, expect }) => {
    // Attack finding: with no pacer the reply's send sat inside `pacer?.replied(…, send(reply), …)`,
    // which optional chaining skips whole, so the server ran every request and answered none.
    await f.start(['--request-rate', '0']);
    const c = await f.loggedIn('obi');
    expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
    expect((await c.request('l', 'LST', [])).lines).toEqual(['The list of active threads:', 't']);
  });

  it('--request-rate: an account sending faster is served at that rate, in order, while another account is served at once', async ({ f, expect }) => {
    await f.start(['--request-rate', '5']);
    const other = await f.loggedIn('obi');
    const flooder = await f.loggedIn('yoda');
    const started = performance.now();
    // 20 at once, within the 32 a connection may queue: a burst of 10 (twice the rate), then one per 200 ms.
    const replies = Array.from({ length: 20 }, (_, i) => flooder.request(`f${i}`, 'LST', []).then((r) => ({ r, at: performance.now() })));
    const mine = await other.request('o', 'LST', []);
    const done = await Promise.all(replies);
    expect(mine.lines).toEqual(['No threads to list']);
    expect(done.map((d) => d.r.id)).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
    expect(done.every((d) => d.r.lines[0] === 'No threads to list')).toBe(true);
    // The last ten waited their turns: 10 × 200 ms at least.
    expect((done[19]?.at ?? 0) - started).toBeGreaterThanOrEqual(1_900);
    // The other before the flood's last, in the server's own order (its log, written as each command runs), not by
    // when the replies reached this process: on a loaded machine replies arrive in one turn of its loop.
    const served = (): string[] => f.server.lines().filter((l) => / issued LST command$/.test(l));
    await expect.poll(served).toHaveLength(21);
    expect(served().indexOf('obi issued LST command')).toBeLessThan(20);
    expect(f.server.child.exitCode).toBeNull();
  });

  it('--request-rate: a large reply costs its account more turns, so a loop of full-thread reads is paced by bytes', async ({ f, expect }) => {
    // A 1 MB thread: its RDT reply is about 1 MB of JSON, 16 turns past its request's own.
    await f.start(['--request-rate', '5'], (dir) => writeFile(join(dir, 'big'), largeThreadFile('obi', 256)));
    const reader = await f.loggedIn('yoda');
    const other = await f.loggedIn('obi');
    const started = performance.now();
    // The LST goes right behind the RDT, before any of its reply: it waits its turn at the server, counted on the
    // server's clock from when the reply left, however slowly this process then takes in the 1 MB. Before, it went
    // once the reply had arrived, and on a loaded machine (load 15-20) that took so long that the debt was paid.
    const read = reader.request('r1', 'RDT', ['big']);
    const next = reader.request('r2', 'LST', []).then(() => performance.now());
    // The other asks once the server has run the RDT (its log, written as each command runs), while the LST waits.
    await f.server.stdout.waitFor('yoda issued RDT command\n');
    expect((await other.request('o', 'LST', [])).lines).toEqual(['The list of active threads:', 'big']);
    expect((await read).lines).toHaveLength(256);
    // The RDT took its request's turn and 15 more (1 MB of reply) from the reader's burst of 10: its next
    // request waits for 6 turns of debt and its own, 7 at 5 a second, counted from when the reply left (after `started`).
    const nextAt = await next;
    expect(nextAt - started).toBeGreaterThanOrEqual(1_300);
    // The other was served first, in the server's own order (its log), not by when the replies reached this process.
    const served = (): string[] => f.server.lines().filter((l) => / issued (?:LST|RDT) command$/.test(l));
    await expect.poll(served).toHaveLength(3);
    expect(served()).toEqual(['yoda issued RDT command', 'obi issued LST command', 'yoda issued LST command']);
  });

  it('--request-rate: the accounts of one client host share four times the rate, while another host is served at once', async ({ f, expect }) => {
    // Attack round 10 (attack/request-cost.ts msg-own 10 1): paced by account alone, ten accounts of one address
    // were served ten accounts' worth (1,108 MSGs a second, the server past a core). With rate 5 a host's accounts
    // share 20 a second, in bursts of 40.
    await f.start(['--request-rate', '5', '--account-limit', '0']);
    const accounts = await Promise.all(Array.from({ length: 10 }, (_, a) => f.loggedIn(`u${a}`)));
    // Each account sends its own burst (10) at once: by account alone all 100 went at once.
    const { started, last, elsewhereAt } = await f.floodBesideAnotherHost(accounts, expect);
    // 40 at once, the other 60 at 20 a second: the last 3 s after (it took under a second before).
    expect(last - started).toBeGreaterThanOrEqual(2_800);
    expect(elsewhereAt).toBeLessThan(last);
    expect(f.server.child.exitCode).toBeNull();
  });

  it('--large-reply-rate and --request-charge: the cheap requests of many hosts share one server-wide rate, while another host is served first', async ({ f, expect }) => {
    // Paced per account and host only, N addresses got N hosts' pace (8 reading 1 KiB threads: 4,189-4,241 replies a
    // second, 54-69 % of a core). A charge of 1 MiB at 8 MiB/s: 8 requests a second in all, and 8 MiB of burst.
    await f.start(['--large-reply-rate', '8', '--request-charge', '1024', '--request-rate', '1000', '--account-limit', '0']);
    const hosts = await Promise.all(
      Array.from({ length: 4 }, async (_, h) => {
        const c = await rawClient(f.server.port, { localAddress: `127.0.0.${11 + h}` });
        f.clients.push(c);
        await rawLogin(c, `h${h}`, 'pw');
        return c;
      }),
    );
    // 40 LSTs of no threads (one-line replies) at once, 10 a host: under each host's pace, all went at once before.
    const { started, last, elsewhereAt } = await f.floodBesideAnotherHost(hosts, expect);
    // At most the burst and as much again (parties under their share while in debt) at once, the rest at 8 a second:
    // the last at least (40 - 17) / 8 s after.
    expect(last - started).toBeGreaterThanOrEqual(2_500);
    // The other host read less than its share: it goes first, not after the flood.
    expect(elsewhereAt).toBeLessThan(last - 1_000);
    expect(f.server.child.exitCode).toBeNull();
  });

  it('a client firing hundreds of requests and garbage without waiting does not stall another client', async ({ f, expect }) => {
    await f.start();
    const flooder = await f.open();
    const other = await f.open();
    await rawLogin(other, 'obi', 'pw');
    const encoder = new TextEncoder();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const bytes = i % 3 === 0 ? randomBytes(64) : encoder.encode(JSON.stringify({ id: `x${i}`, username: 'obi', cmd: 'LST', args: [] }));
      sends.push(flooder.conn.send(bytes).catch(() => undefined));
    }
    expect((await other.request('l', 'LST', [])).lines).toEqual(['No threads to list']);
    await Promise.all(sends);
    expect((await other.request('c', 'CRT', ['after'])).lines).toEqual(['Thread after created']);
    expect(f.server.child.exitCode).toBeNull();
  });

  // Alone (it.sequential, after the others): its clock starts when the CRT's reply reaches this process, and the
  // MSGs' turns count from when the server charged the CRT; tests beside it delayed this process's loop past the
  // bound's margin (1,270 ms against 1,300).
  it.sequential('--request-rate: a write costs its account four turns, so a loop of MSGs is paced at a quarter of the rate', async ({ f, expect }) => {
    // Attack round 10 (attack/request-cost.ts msg-own 1 1): a MSG costs about 2.7 ms of CPU, a read of a small thread
    // 0.2-0.4 ms; one turn each, an account's MSGs at its pace kept 30-46 % of a core busy.
    await f.start(['--request-rate', '5']);
    const writer = await f.loggedIn('yoda');
    // Before the CRT, whose turns the pacing counts from: taken after its reply, the reply's own way back (over
    // 110 ms at load 15) was missing from the wait measured (1,290 ms).
    const started = performance.now();
    expect((await writer.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
    // The CRT took 4 of the burst of 10; then 1 + 3 per MSG: the second MSG goes into debt, the third waits for
    // it (3 turns at 5 a second), the fourth for 4 more.
    const done = await Promise.all(Array.from({ length: 4 }, (_, i) => writer.request(`m${i}`, 'MSG', ['t', `n${i}`]).then((r) => ({ r, at: performance.now() }))));
    expect(done.map((d) => d.r.lines[0])).toEqual(Array(4).fill('Message posted to t thread'));
    // One turn each (before), all four went at once.
    expect((done[3]?.at ?? 0) - started).toBeGreaterThanOrEqual(1_300);
    expect(f.server.child.exitCode).toBeNull();
  });
});
