/**
 * A session's end on the transport's 'close' runs every clean-up step whatever another throws: the login
 * room, the request queue's bytes, the live session, the transfer tokens, the transferring marks, the
 * transport's log line, the session's release and `U exited`. Before, one step's exception skipped the
 * ones after it (the session held, its counts kept) and escaped, as the emitter's exception or an
 * unhandled rejection: either ends the server's process. The same for the end of a session taken over
 * (`endTakenOver`, called from the lease registry's renewal timer) and of an idle one (a timer too).
 */
import { accountPolicy, createSessionRegistry, createTransferTokens, type SessionRegistry, type TransferTokens } from 'forum-protocol';
import { randomBytes } from 'node:crypto';
import { PROTOCOL_VIOLATION, type RudpConnection } from 'rudpx';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LoginRoom } from '../src/login-room.js';
import { QueueBudget, type QueueHolder } from '../src/queue-budget.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { loggedIn, memoryContext, PEER_CLOSED } from './served-connection.js';
import { until } from './until.js';

/** The steps a session's end takes, each of which a test makes throw (or reject) once the session is logged in. */
type Step = 'login room' | 'queue budget' | 'tokens' | 'activity' | 'transport line' | 'release' | 'exited line' | 'timed out line' | 'taken over line';

/** A context whose steps are counted as they run, and whose `fault` step throws (`release` rejects) once armed. */
const faultyContext = (fault: Step, idleTimeoutMs = 60_000) => {
  let armed = false;
  const ran = new Set<Step>();
  const step = (s: Step): void => {
    ran.add(s);
    if (armed && s === fault) throw new Error(`${s} failed`);
  };
  const log: string[] = [];
  const room = new (class extends LoginRoom<RudpConnection> {
    override leave(key: RudpConnection): void {
      step('login room');
      super.leave(key);
    }
  })(100, 100);
  const queueBudget = new (class extends QueueBudget {
    override forget(holder: QueueHolder): void {
      step('queue budget');
      super.forget(holder);
    }
  })({ perHost: 1 << 20, perConnection: 1 << 20, perConnectionBeforeLogin: 1 << 20 });
  const activity = new (class extends TransferActivity {
    override forget(username: string): void {
      step('activity');
      super.forget(username);
    }
  })();
  const realTokens = createTransferTokens({ randomBytes: (n) => randomBytes(n) });
  const tokens: TransferTokens = {
    ...realTokens,
    revokeSession: (session) => {
      step('tokens');
      return realTokens.revokeSession(session);
    },
  };
  const realRegistry = createSessionRegistry();
  const registry: SessionRegistry = {
    ...realRegistry,
    release: (u, key) => async () => {
      step('release');
      await realRegistry.release(u, key)();
    },
  };
  const ctx = memoryContext([], {
    loginRoom: room,
    queueBudget,
    activity,
    tokens,
    registry,
    accounts: accountPolicy({ rateLimit: false, accountCreationLimit: false }),
    idleTimeoutMs,
    log: (line) => {
      if (line.includes('connection ended by the transport')) step('transport line');
      if (line.endsWith(' exited')) step('exited line');
      if (line.endsWith(' timed out')) step('timed out line');
      if (line.endsWith('its lease lapsed and the account logged in elsewhere')) step('taken over line');
      log.push(line);
    },
  });
  return { ctx, ran, log, activity, registry: realRegistry, arm: () => (armed = true) };
};

const rejections: unknown[] = [];
const onRejection = (e: unknown): void => void rejections.push(e);
beforeEach(() => {
  rejections.length = 0;
  process.on('unhandledRejection', onRejection);
});
afterEach(() => void process.off('unhandledRejection', onRejection));

const ALL: readonly Step[] = ['login room', 'queue budget', 'tokens', 'activity', 'transport line', 'release', 'exited line'];

it.each(ALL)('every step of the end runs and nothing escapes when the %s step throws', async (fault) => {
  const f = faultyContext(fault);
  const conn = await loggedIn(f.ctx, 'alice', '127.0.0.1');
  expect(f.ctx.liveSessions.size).toBe(1);
  f.ran.clear();
  f.arm();
  conn.closed = true;
  // Closed by the transport for a protocol violation: the path with every step, its log line included.
  expect(() => conn.emit('close', { kind: 'local', code: PROTOCOL_VIOLATION, message: 'protocol violation: forged packets' })).not.toThrow();
  // The last step, whichever failed: the session's release, then its line.
  expect(await until(() => f.ran.has('exited line') || (fault === 'release' && f.log.some((l) => l.startsWith('Internal error'))), 5_000)).toBe(true);
  // A rejection is reported on the turn after it: let one come.
  await new Promise((resolve) => setImmediate(resolve));
  expect([...f.ran].sort()).toEqual(fault === 'release' ? ALL.filter((s) => s !== 'exited line').sort() : [...ALL].sort());
  expect(f.ctx.liveSessions.size).toBe(0);
  expect(f.activity.size).toBe(fault === 'activity' ? 1 : 0);
  expect(f.registry.size()).toBe(fault === 'release' ? 1 : 0);
  expect(f.log).toContain(`Internal error: ${fault} failed`);
  expect(rejections).toEqual([]);
});

it('an idle timeout whose log line throws still ends the session: released, its marks gone, the client told, nothing escapes (a timer)', async () => {
  const f = faultyContext('timed out line', 300);
  f.arm();
  const conn = await loggedIn(f.ctx, 'alice', '127.0.0.1');
  // The session's end: released in the registry, and the notice sent after it.
  expect(await until(() => f.registry.size() === 0 && conn.closeCalls > 0, 5_000)).toBe(true);
  expect(f.ran.has('timed out line')).toBe(true);
  expect(f.ctx.liveSessions.size).toBe(0);
  expect(f.activity.size).toBe(0);
  expect(f.log).toContain('Internal error: timed out line failed');
  expect(rejections).toEqual([]);
});

it("an idle timeout whose session release rejects still tells the client and closes its connection: not left open, ignoring what it sends", async () => {
  const f = faultyContext('release', 300);
  f.arm();
  const conn = await loggedIn(f.ctx, 'alice', '127.0.0.1');
  expect(await until(() => f.ran.has('release') && f.log.includes('Internal error: release failed'), 5_000)).toBe(true);
  // The close and its notice come after the release settles, either way (a turn later).
  expect(await until(() => conn.closeCalls > 0, 5_000)).toBe(true);
  expect(f.ctx.liveSessions.size).toBe(0);
  expect(rejections).toEqual([]);
});

/** The steps of a takeover's end (`endTakenOver`): its line and the session's clean-up; no release (the lease is another connection's now) and no `U exited`. */
const TAKEOVER: readonly Step[] = ['taken over line', 'login room', 'queue budget', 'tokens', 'activity'];

it.each(TAKEOVER)('a takeover (the lease lapsed, the account logged in elsewhere) runs every step and nothing escapes when the %s step throws', async (fault) => {
  const f = faultyContext(fault);
  const conn = await loggedIn(f.ctx, 'alice', '127.0.0.1');
  const [end, ...others] = [...f.ctx.liveSessions.values()];
  expect(others).toEqual([]);
  f.ran.clear();
  f.arm();
  // What the registry's renewal does when it finds this session's lease gone (forum-server.ts, onLeaseLost): called
  // from its timer, where an exception ends the process.
  expect(() => end?.()).not.toThrow();
  await new Promise((resolve) => setImmediate(resolve));
  expect([...f.ran].sort()).toEqual([...TAKEOVER].sort());
  expect(f.ctx.liveSessions.size).toBe(0);
  expect(f.activity.size).toBe(fault === 'activity' ? 1 : 0);
  // Not released: the account's lease is the new session's.
  expect(f.registry.size()).toBe(1);
  expect(conn.closeCalls).toBe(1);
  expect(f.log).toContain(`Internal error: ${fault} failed`);
  expect(rejections).toEqual([]);
  // Ended once: its connection's close later runs none of the session's steps again (the login room's leave is the close's own).
  f.ran.clear();
  conn.closed = true;
  conn.emit('close', PEER_CLOSED);
  await new Promise((resolve) => setImmediate(resolve));
  expect([...f.ran].filter((s) => s !== 'login room')).toEqual([]);
});
