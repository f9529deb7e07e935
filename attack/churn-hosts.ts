/**
 * Attack round 14: churn. Many distinct client hosts (127.A.B.C) each do a little and leave; after
 * every round the server is made to collect its garbage and measured (churn-probe.cjs): heap, external
 * memory, RSS, descriptors, active timers and handles, files in the data directory. Prints each
 * round and the slope of each figure per operation (rounds 2..N; round 1 warms up). With
 * CHURN_SNAPSHOT=1 also the heap-snapshot rows (objects by constructor, Map tables…) that grew most.
 *
 * Run: `npx tsx attack/churn-hosts.ts <op> [rounds=10] [ops a round=200] [settle s=2] [server options…]`
 *
 * Ops (each from a new source address unless said):
 *   handshake   connect, close
 *   retry       a cookie-less INITIAL (the server answers a RETRY), nothing more
 *   halfopen    answer the RETRY with the cookie INITIAL, vanish at the ACCEPT (a connection made)
 *   vanish      connect and vanish without a CLOSE (the idle timeout ends it)
 *   login-ok    log in to one of 512 accounts (made first; CHURN_ACCOUNTS), XIT
 *   login-bad   a wrong password for one of those accounts
 *   register    a new account (one per host: the creation limit is per host)
 *   taken       log in to an account a vanished session of another host still holds
 *   threads     one account (one host): CRT, MSG and RMV of a new title
 *   upload      log in, UPD; the transfer connection sends its token and a few bytes and goes
 *   token       log in, UPD, never connect to the transfer port; XIT
 *   rebind      one session through a relay whose upstream address changes before each request
 *   (round 14's time runs: `churn-idle.ts`; CHURN_HOST=<address>: every op from that one address)
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import net from 'node:net';
import { Endpoint, formatAddress } from '../packages/rudp/dist/core.js';
import { nodeCryptoProvider } from '../packages/rudp/dist/index.js';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter } from '../packages/forum-protocol/dist/index.js';
import { describe, hosts, rawSession, sleep, startChurnServer, summary, type RawSession, type Sample } from './churn-lib.js';

const op = process.argv[2] ?? 'handshake';
const rounds = Number(process.argv[3] ?? 10);
const perRound = Number(process.argv[4] ?? 200);
const settleMs = Number(process.argv[5] ?? 2) * 1000;
const extra = process.argv.slice(6);
const port = 20000 + randomInt(20000);
const server = await startChurnServer(port, extra);
// CHURN_HOST: every op from that one address (with `--account-limit 0`: what an account costs, without the per-host tables).
const fresh = hosts();
const next = (): string => process.env.CHURN_HOST ?? fresh();
const PARALLEL = Number(process.env.CHURN_PARALLEL ?? 16);
let failures = 0;
const outcomes = new Map<string, number>();
const note = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);

/** A sans-IO client from `host` that stops at `stopAt`: 'retry' (a RETRY came) or 'accept' (the ACCEPT came). */
const partial = (host: string, stopAt: 'retry' | 'accept'): Promise<void> =>
  new Promise((resolve) => {
    const sock: Socket = createSocket('udp4');
    const ep = new Endpoint({ random: () => randomInt(2 ** 32), crypto: nodeCryptoProvider, handshakeTimeoutMs: 5000 });
    let done = false;
    const finish = (what: string): void => {
      if (done) return;
      done = true;
      note(what);
      sock.close();
      resolve();
    };
    const pump = (): void => {
      while (ep.pollEvent());
      for (let t = ep.pollTransmit(performance.now()); t; t = ep.pollTransmit(performance.now())) if (!done) sock.send(t.data, port, '127.0.0.1');
    };
    sock.on('message', (b) => {
      const kind = (b[0] as number) & 7;
      if (stopAt === 'retry') return finish(`answered kind ${kind}`);
      if (kind === 3) return finish('accept');
      ep.handleDatagram(performance.now(), new Uint8Array(b), formatAddress('127.0.0.1', port));
      pump();
    });
    sock.bind(0, host, () => {
      ep.connect(performance.now(), formatAddress('127.0.0.1', port));
      pump();
    });
    setTimeout(() => finish('no answer'), 3000);
  });

const ACCOUNTS = Number(process.env.CHURN_ACCOUNTS ?? 512);
const account = (i: number): string => `acct${i % ACCOUNTS}`;
let made: Promise<void> | undefined;
/** The accounts, made once (8 a host: the creation limit is 10 a host in 10 minutes). */
const makeAccounts = (): Promise<void> => (made ??= makeAccountsOnce());
const makeAccountsOnce = async (): Promise<void> => {
  for (let i = 0; i < ACCOUNTS; i += 8) {
    const h = next();
    for (let j = i; j < i + 8; j++) {
      const s = await rawSession(port, h);
      const r = await s.login(account(j), `pw-${account(j)}`);
      if (r?.lines[0] !== 'Welcome to the forum') throw new Error(`account ${account(j)}: ${r?.lines.join('|')}`);
      await s.request('XIT', []);
      await s.conn.close().catch(() => undefined);
    }
  }
};

let threadsSession: RawSession | undefined;
let relay: { readonly session: RawSession; rebind(): void } | undefined;

/** A relay on 127.0.0.1 between one client and the server; `rebind` moves its upstream side to a new host. */
const startRelay = async (): Promise<{ readonly session: RawSession; rebind(): void }> => {
  const down = createSocket('udp4');
  await new Promise<void>((r) => down.bind(0, '127.0.0.1', () => r()));
  let client: { address: string; port: number } | undefined;
  let up: Socket | undefined;
  const open = (): void => {
    const old = up;
    const s = createSocket('udp4');
    s.on('message', (b) => {
      if (client !== undefined) down.send(b, client.port, client.address);
    });
    s.bind(0, next());
    up = s;
    // The old side keeps passing what is still on its way for a moment, as a NAT's old mapping would.
    if (old !== undefined) setTimeout(() => old.close(), 200);
  };
  open();
  down.on('message', (b, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    up?.send(b, port, '127.0.0.1');
  });
  const { connect } = await import('../packages/rudp/dist/index.js');
  const conn = await connect({ port: down.address().port, host: '127.0.0.1', idleTimeoutMs: 30_000 });
  void conn;
  // The session's own helpers, over that connection: rawSession needs a localAddress, so it is built here by hand.
  const session = await rawSessionOver(conn);
  return { session, rebind: open };
};

/** `rawSession`'s helpers over a connection made elsewhere. */
const rawSessionOver = async (conn: import('../packages/rudp/dist/index.js').RudpConnection): Promise<RawSession> => {
  const { decodeServerMessage, encodeRequest } = await import('../packages/forum-protocol/dist/index.js');
  const waiting = new Map<string, (r: import('../packages/forum-protocol/dist/index.js').Reply | undefined) => void>();
  let id = 0;
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left' || m.right.type !== 'reply') return;
    waiting.get(m.right.id)?.(m.right);
    waiting.delete(m.right.id);
  });
  conn.on('error', () => undefined);
  const request: RawSession['request'] = (cmd, args, timeoutMs = 10_000) => {
    const key = String(++id);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      waiting.set(key, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
    });
  };
  const login: RawSession['login'] = async (user, password) => {
    const u = await request('username', [user]);
    if (u === undefined || u.data.kind !== 'auth') return u;
    return await request(u.data.next as import('../packages/forum-protocol/dist/index.js').RequestCommand, [password]);
  };
  return { conn, request, login };
};

/** The transfer connection of `reply` from `host`: the token line, the size line, `sent` bytes of the body, then gone. */
const abandonTransfer = (s: RawSession, host: string, reply: import('../packages/forum-protocol/dist/index.js').Reply, sent: number): Promise<void> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') {
      note(`UPD: ${reply.lines.join('|').slice(0, 60)}`);
      return resolve();
    }
    const socket = net.connect({ host: '127.0.0.1', port: reply.data.port, localAddress: host });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.write(`${reply.data.token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), reply.data.token), 'client');
    ch.on('error', () => undefined);
    ch.write(`100000\n`);
    ch.write(Buffer.alloc(sent));
    setTimeout(() => {
      note('upload abandoned');
      socket.destroy();
    }, 100);
  });

let counter = 0;
const ops: Record<string, () => Promise<void>> = {
  handshake: async () => {
    const s = await rawSession(port, next());
    await s.conn.close();
    note('closed');
  },
  retry: () => partial(next(), 'retry'),
  halfopen: () => partial(next(), 'accept'),
  vanish: async () => {
    const s = await rawSession(port, next());
    s.conn.destroy();
    note('vanished');
  },
  'login-ok': async () => {
    await makeAccounts();
    const s = await rawSession(port, next());
    const r = await s.login(account(counter++), `pw-${account(counter - 1)}`);
    note(r?.lines[0] ?? 'no answer');
    await s.request('XIT', []);
    await s.conn.close().catch(() => undefined);
  },
  'login-bad': async () => {
    await makeAccounts();
    const s = await rawSession(port, next());
    const r = await s.login(account(counter++), 'wrong');
    note((r?.lines[0] ?? 'no answer').replace(/[0-9]+/g, 'N'));
    await s.conn.close().catch(() => undefined);
  },
  register: async () => {
    const s = await rawSession(port, next());
    const user = `n${process.pid}x${counter++}`;
    const r = await s.login(user, `pw-${user}`);
    note(r?.lines[0] ?? 'no answer');
    await s.conn.close().catch(() => undefined);
  },
  taken: async () => {
    await makeAccounts();
    const user = account(counter++);
    const a = await rawSession(port, next());
    await a.login(user, `pw-${user}`);
    a.conn.destroy();
    const b = await rawSession(port, next());
    const r = await b.login(user, `pw-${user}`);
    note((r?.lines[0] ?? 'no answer').replace(user, 'U'));
    await b.conn.close().catch(() => undefined);
  },
  threads: async () => {
    if (threadsSession === undefined) {
      threadsSession = await rawSession(port, next());
      await threadsSession.login('churner', 'pw-churner');
    }
    const t = `t${counter++}`;
    const c = await threadsSession.request('CRT', [t]);
    await threadsSession.request('MSG', [t, 'hello']);
    const r = await threadsSession.request('RMV', [t]);
    note(`${c?.lines[0]?.replace(t, 'T') ?? '-'} / ${r?.lines[0]?.replace(t, 'T') ?? '-'}`);
  },
  upload: async () => {
    await makeAccounts();
    const h = next();
    const s = await rawSession(port, h);
    const user = account(counter++);
    await s.login(user, `pw-${user}`);
    const title = `up-${user}`;
    await s.request('CRT', [title]);
    const r = await s.request('UPD', [title, `f${counter}.bin`]);
    if (r !== undefined) await abandonTransfer(s, h, r, 2000);
    await s.request('XIT', []);
    await s.conn.close().catch(() => undefined);
  },
  token: async () => {
    await makeAccounts();
    const s = await rawSession(port, next());
    const user = account(counter++);
    await s.login(user, `pw-${user}`);
    const title = `up-${user}`;
    await s.request('CRT', [title]);
    const r = await s.request('UPD', [title, `f${counter}.bin`]);
    note(r?.data.kind === 'transfer' ? 'token, never used' : `UPD: ${r?.lines.join('|').slice(0, 60)}`);
    await s.request('XIT', []);
    await s.conn.close().catch(() => undefined);
  },
  rebind: async () => {
    if (relay === undefined) {
      relay = await startRelay();
      await relay.session.login('rebinder', 'pw-rebinder');
    }
    relay.rebind();
    await sleep(5);
    const r = await relay.session.request('LST', []);
    note(r === undefined ? 'no answer' : 'answered');
  },
};
const run = ops[op];
if (run === undefined) throw new Error(`unknown op ${op}: ${Object.keys(ops).join(', ')}`);
// One at a time where a single session carries the ops; else PARALLEL at once.
const parallel = op === 'threads' || op === 'rebind' ? 1 : PARALLEL;

console.log(`churn ${op}: ${rounds} rounds of ${perRound}, settle ${settleMs / 1000} s, server ${extra.join(' ') || '(defaults)'}`);
const samples: Sample[] = [await server.probe(0)];
console.log(`  before: ${describe(samples[0] as Sample)}`);
let done = 0;
const t0 = performance.now();
for (let r = 1; r <= rounds; r++) {
  for (let i = 0; i < perRound; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, perRound - i) }, () =>
        run().catch((e: unknown) => {
          failures++;
          note(`failed: ${e instanceof Error ? e.message.slice(0, 80) : String(e)}`);
        }),
      ),
    );
  }
  done += perRound;
  await sleep(settleMs);
  const s = await server.probe(done, process.env.CHURN_SNAPSHOT === '1' && (r === 1 || r === rounds));
  samples.push(s);
  console.log(`  round ${r} (${((performance.now() - t0) / 1000).toFixed(0)} s): ${describe(s)}`);
}
console.log(summary(samples));
console.log(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}; failures ${failures}`);
if (process.env.CHURN_LOG === '1') console.log(server.out.slice(-3000));
await server.stop();
process.exit(0);
