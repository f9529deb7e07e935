/**
 * A SIGHUP or Ctrl-C that arrives while the client closes its connection on the way out (waiting up to 1 s
 * for the server's acknowledgement) cuts the close short. e2e-client-signals.test.ts shows it on the real
 * binary by timing; here the same path runs on a fake connection whose close only ends when its signal
 * aborts, with fake timers, so the 1 s grace never passes: the close ends only if the signal is heeded.
 * On the same fake connection: a fatal event that comes once the client is on its way out says nothing.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { CloseOptions, RudpConnection } from 'rudpx';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientState } from '../src/client-state.js';
import { EXIT } from '../src/exit-status.js';
import { LineInput } from '../src/line-input.js';
import { CLOSE_GRACE_ENV, closeGraceMs, MAX_TEST_CLOSE_GRACE_MS } from '../src/close-grace.js';
import { CLOSE_GRACE_MS, ServerLink } from '../src/server-link.js';
import { SessionExit } from '../src/session-exit.js';
import { hangUpHandler, interruptHandler } from '../src/signal-handling.js';

/** A connection to a server that never acknowledges the close: `close` ends only when its signal aborts, as rudp's does. */
class UnacknowledgedConnection extends EventEmitter {
  destroyed = false;
  close(options?: CloseOptions): Promise<void> {
    return new Promise((resolve) => options?.signal?.addEventListener('abort', () => resolve(), { once: true }));
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** Whether `p` has settled once the microtasks queued so far ran (no fake time passes). */
const settledNow = async <T>(p: Promise<T>): Promise<{ settled: boolean; value?: T }> => {
  let result: { settled: boolean; value?: T } = { settled: false };
  void p.then((value) => (result = { settled: true, value }));
  await vi.advanceTimersByTimeAsync(0);
  return result;
};

/** A connected session on the way out: its state, close path, link and the fake connection under it. */
const closingSession = (scripted: boolean) => {
  const conn = new UnacknowledgedConnection();
  const link = new ServerLink(conn as unknown as RudpConnection, 60_000, { notice: () => undefined, lost: () => undefined });
  const input = new LineInput(false, () => undefined, { input: new PassThrough(), output: new PassThrough() });
  const state = new ClientState(scripted, input);
  state.link = link;
  const end = new SessionExit(state);
  return { conn, link, state, end };
};

describe('the close cut short by a signal', () => {
  let stderr: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('ServerLink.close({ signal }) waits out its grace for a silent server, and ends at once when the signal aborts', async () => {
    const waited = closingSession(false);
    const graceful = waited.link.close();
    await vi.advanceTimersByTimeAsync(CLOSE_GRACE_MS - 1);
    expect((await settledNow(graceful)).settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await settledNow(graceful)).settled).toBe(true);
    expect(waited.conn.destroyed).toBe(true);

    const { conn, link } = closingSession(false);
    const cut = new AbortController();
    const closing = link.close({ signal: cut.signal });
    expect((await settledNow(closing)).settled).toBe(false);
    cut.abort();
    // No time has passed: only the signal can have ended it.
    expect((await settledNow(closing)).settled).toBe(true);
    expect(conn.destroyed).toBe(true);
  });

  it('SIGHUP while a script logs out: the close ends at once, exit 129, said on stderr', async () => {
    const { end, link, state } = closingSession(true);
    const quitting = end.quit(link, EXIT.ok);
    expect(end.closing).toBe(true);
    expect((await settledNow(quitting)).settled).toBe(false);
    hangUpHandler(state, end)();
    expect(await settledNow(quitting)).toEqual({ settled: true, value: EXIT.hangUp });
    expect(stderr.join('')).toBe('Hung up (SIGHUP) while closing the connection\n');
  });

  it('SIGHUP while a terminal session logs out: the close ends at once, the exit stays 0, nothing said', async () => {
    const { end, link, state } = closingSession(false);
    const quitting = end.quit(link, EXIT.ok);
    hangUpHandler(state, end)();
    expect(await settledNow(quitting)).toEqual({ settled: true, value: EXIT.ok });
    expect(stderr).toEqual([]);
  });

  it("Ctrl-C while a script logs out: the close ends at once, exit 130; a fatal event's status stands", async () => {
    const { end, link, state } = closingSession(true);
    const quitting = end.quit(link, EXIT.ok);
    interruptHandler(state, end)();
    expect(await settledNow(quitting)).toEqual({ settled: true, value: EXIT.interrupted });
    expect(stderr.join('')).toBe('Interrupted (SIGINT) while closing the connection\n');
    // What the fatal path (exit after `Server unreachable`) makes of its own status once the close was cut.
    expect(end.statusAfterClose(EXIT.unreachable)).toBe(EXIT.unreachable);
  });
});

describe('a fatal event once the client is on its way out', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('says nothing: the first report stands (the server\'s notice, then its connection lost while closing)', () => {
    const { end } = closingSession(true);
    const notice = vi.fn();
    const lostWhileClosing = vi.fn();
    end.fatal(EXIT.unreachable, notice);
    expect(end.closing).toBe(true);
    end.fatal(EXIT.unreachable, lostWhileClosing);
    // Before, the second printed `Server unreachable: connection lost (…)` after the notice.
    expect(notice).toHaveBeenCalledTimes(1);
    expect(lostWhileClosing).not.toHaveBeenCalled();
  });

  it('says nothing after the logout: a connection lost while the XIT\'s close is acknowledged is no news', async () => {
    const { end, link } = closingSession(false);
    const quitting = end.quit(link, EXIT.ok);
    const lostWhileClosing = vi.fn();
    end.fatal(EXIT.unreachable, lostWhileClosing);
    expect(lostWhileClosing).not.toHaveBeenCalled();
    expect((await settledNow(quitting)).settled).toBe(false);
  });

  it('during a transfer, waits for it and then reports, unless the client began to exit meanwhile', () => {
    const waited = closingSession(false);
    waited.state.transferring = true;
    const report = vi.fn();
    waited.end.fatal(EXIT.unreachable, report);
    expect(report).not.toHaveBeenCalled();
    waited.state.transferring = false;
    waited.state.deferredExit?.();
    expect(report).toHaveBeenCalledTimes(1);

    const cut = closingSession(false);
    cut.state.transferring = true;
    const late = vi.fn();
    cut.end.fatal(EXIT.unreachable, late);
    // A second Ctrl-C during the transfer: the client exits at once, its own way.
    cut.end.exit(EXIT.interrupted);
    cut.state.transferring = false;
    cut.state.deferredExit?.();
    expect(late).not.toHaveBeenCalled();
  });
});

describe('the close grace a test may lengthen (close-grace.ts)', () => {
  it('is 1 s unless the environment lengthens it, to at most 60 s; nothing shortens it', () => {
    expect(closeGraceMs({})).toBe(CLOSE_GRACE_MS);
    expect(closeGraceMs({ [CLOSE_GRACE_ENV]: '30000' })).toBe(30_000);
    expect(closeGraceMs({ [CLOSE_GRACE_ENV]: String(MAX_TEST_CLOSE_GRACE_MS) })).toBe(MAX_TEST_CLOSE_GRACE_MS);
    for (const text of ['', ' ', '0', '999', '60001', '1e4', '-5000', '5000.5', 'abc', 'Infinity']) expect(closeGraceMs({ [CLOSE_GRACE_ENV]: text }), text).toBe(CLOSE_GRACE_MS);
  });
});
