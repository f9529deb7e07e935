/**
 * forum-client's transfer connection evicted by the server for a newer one of its host (a burst of more than 16
 * from one address: the oldest without a token go, each told `ERR too many transfers at once …` in clear) is
 * asked for again, a new UPD or DWN after a pause, a few times, each said on stderr; given up, the line says
 * whether anything can have been stored. Before, it printed `Upload of F: unauthenticated answer: too many
 * transfers at once …; it may or may not have been stored` for an upload the server had never read. Real
 * forum-server and forum-client binaries; the transfer port is reached through a proxy that has the server
 * evict the client's connection (evicting-proxy.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOO_MANY_TRANSFERS_TEXT } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { answered, cleanupAfterEach, P, spawnClient, tempDir, withoutFirstContact, type TestScope } from '../../server/test/forum-processes.js';
import { startEvictingProxy } from './evicting-proxy.js';
import { startForgingProxy } from './forging-proxy.js';
import { serverBehindTransferProxy } from './server-behind-transfer-proxy.js';
import { earlierTryLine, TRANSFER_PAUSE_SCALE_ENV, transferRetryNotice, transferRetryPauses } from '../src/transfer-retry.js';

/** A server whose advertised transfer port is an evicting proxy (its first `evictions` connections evicted), and a working directory. */
const serverBehindProxy = async (scope: TestScope, evictions: number, drop = true) => {
  const { proxy, server, cwd } = await serverBehindTransferProxy(scope, await startEvictingProxy('127.0.0.9', evictions, drop));
  return { proxy, server, cwd };
};

/** Runs forum-client as yoda on `lines` (then end of input), with the transfer pauses scaled by `scale` (1: the real ones). */
const runYoda = async (port: number, cwd: string, lines: readonly string[], scale = 1) => {
  const before = process.env[TRANSFER_PAUSE_SCALE_ENV];
  process.env[TRANSFER_PAUSE_SCALE_ENV] = String(scale);
  try {
    const client = spawnClient(port, cwd);
    client.child.stdin?.end(['yoda', 'pw', ...lines].map((l) => `${l}\n`).join(''));
    return { code: await client.exited, stdout: client.stdout.text, stderr: client.stderr.text };
  } finally {
    if (before === undefined) delete process.env[TRANSFER_PAUSE_SCALE_ENV];
    else process.env[TRANSFER_PAUSE_SCALE_ENV] = before;
  }
};

/**
 * A server whose advertised transfer port is a proxy that forges `ERR too many transfers at once` in place of
 * the server's answer to an upload, and a working directory holding f.txt.
 */
const behindForgingProxy = async (scope: TestScope) => {
  const { proxy, server, cwd } = await serverBehindTransferProxy(scope, await startForgingProxy(`ERR ${TOO_MANY_TRANSFERS_TEXT}\n`));
  await writeFile(join(cwd, 'f.txt'), 'hello from yoda\n');
  return { proxy, server, cwd };
};

/** forum-client as yoda, its UPD of f.txt (thread t) stored and then refused by the forged line, in its first pause (the real 1 s). */
const inFirstPause = async (scope: TestScope) => {
  const { proxy, server, cwd } = await behindForgingProxy(scope);
  const client = spawnClient(server.port, cwd);
  client.child.stdin?.write(['yoda', 'pw', 'CRT t', 'UPD t f.txt'].map((l) => `${l}\n`).join(''));
  await client.stderr.waitFor(transferRetryNotice('Upload of f.txt', TOO_MANY_TRANSFERS_TEXT, 1_000, 'UPD', true));
  return { proxy, server, cwd, client };
};

const WELCOME = P.user + P.newPass + 'Welcome to the forum\n';

/**
 * The notice of an upload's try asked for again in `ms` that `stderr` holds as a line: `not begun`, or, for a try
 * refused after its last byte was handed over, `refused … after its last byte was sent`. Which one a try evicted
 * by the proxy gets depends on how far it got before its line came (both are truthful), so either is accepted;
 * the forging proxy's tests, whose try is stored before its refusal, assert the second.
 */
const noticeOf = (stderr: string, what: string, ms: number): string | undefined =>
  [false, true].map((sent) => transferRetryNotice(what, TOO_MANY_TRANSFERS_TEXT, ms, 'UPD', sent)).find((n) => stderr.split('\n').includes(n));

describe('forum-client: a transfer connection the server evicted for a newer one of its host (real processes)', () => {
  const scope = cleanupAfterEach();

  it('an upload handed over whole before its eviction is asked for again after 1 s, and stored once', async () => {
    const { proxy, server, cwd } = await serverBehindProxy(scope, 1);
    await writeFile(join(cwd, 'f.txt'), 'hello from yoda\n');
    const run = await runYoda(server.port, cwd, ['CRT t', 'UPD t f.txt', 'RDT t', 'XIT']);
    expect(run.code).toBe(0);
    // Before: `Upload of f.txt: unauthenticated answer: too many transfers at once …; it may or may not have been
    // stored (RDT t shows it if it was)`, and `Thread t is empty`.
    expect(run.stdout).toBe(WELCOME + answered(['Thread t created'], ['f.txt uploaded to t thread'], ['yoda uploaded f.txt'], ['Goodbye']));
    expect(noticeOf(run.stderr, 'Upload of f.txt', 1_000)).toBeDefined();
    expect([proxy.evicted(), proxy.passed()]).toEqual([1, 1]);
  });

  it('a download is asked for again likewise, and arrives whole', async () => {
    const { proxy, server, cwd } = await serverBehindProxy(scope, 0);
    await writeFile(join(cwd, 'f.txt'), 'hello from yoda\n');
    const up = await runYoda(server.port, cwd, ['CRT t', 'UPD t f.txt', 'XIT']);
    expect(up.stdout).toBe(WELCOME + answered(['Thread t created'], ['f.txt uploaded to t thread'], ['Goodbye']));
    const down = await tempDir('down');
    scope.dirs.push(down);
    proxy.evictNext(1);
    const run = await runYoda(server.port, down, ['DWN t f.txt', 'XIT']);
    expect(run.code).toBe(0);
    // Before: `Download of f.txt failed: unauthenticated answer: too many transfers at once …`.
    expect(run.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['f.txt successfully downloaded'], ['Goodbye']));
    expect(run.stderr).toContain(`${transferRetryNotice('Download of f.txt', TOO_MANY_TRANSFERS_TEXT, 1_000, 'DWN', false)}\n`);
    expect(await readFile(join(down, 'f.txt'), 'utf8')).toBe('hello from yoda\n');
    expect([proxy.evicted(), proxy.passed()]).toEqual([1, 2]);
  });
});

describe('forum-client: a transfer evicted at every try (real processes, pauses a hundredth as long)', () => {
  const scope = cleanupAfterEach();
  /** 10, 20 and 40 ms: what is tested is what is asked again and what is said, not the clock. */
  const SCALE = 0.01;
  const pauses = transferRetryPauses({ [TRANSFER_PAUSE_SCALE_ENV]: String(SCALE) });
  /** The notices of an upload whose every try was refused before its last byte was handed over. */
  const notices = (what: string, cmd: string): string => pauses.map((ms) => `${transferRetryNotice(what, TOO_MANY_TRANSFERS_TEXT, ms, cmd, false)}\n`).join('');

  it('an upload handed over whole each time: given up after 4 tries, its outcome said to be unknown (the refusals are not authenticated)', async () => {
    const { proxy, server, cwd } = await serverBehindProxy(scope, 4);
    await writeFile(join(cwd, 'f.txt'), 'hello from yoda\n');
    const run = await runYoda(server.port, cwd, ['CRT t', 'UPD t f.txt', 'RDT t', 'XIT'], SCALE);
    expect(run.code).toBe(0);
    const given = `Upload of f.txt: ${TOO_MANY_TRANSFERS_TEXT} (4 tries in 0.07 s, refused in unauthenticated answers, one after its last byte was sent); it may or may not have been stored (RDT t shows it if it was)`;
    expect(run.stdout).toBe(WELCOME + answered(['Thread t created'], [given], ['Thread t is empty'], ['Goodbye']));
    // One notice a pause, each either of the two (see noticeOf), and nothing else.
    const said = pauses.map((ms) => noticeOf(run.stderr, 'Upload of f.txt', ms));
    expect(said.every((n) => n !== undefined)).toBe(true);
    expect(withoutFirstContact(run.stderr)).toBe(said.map((n) => `${n}\n`).join(''));
    expect([proxy.evicted(), proxy.passed()]).toEqual([4, 0]);
  });

  it('an upload evicted mid-body each time: given up after 4 tries, nothing stored', async () => {
    // Its bytes left unread: 8 MiB cannot all be handed over, so no try's final record went.
    const { proxy, server, cwd } = await serverBehindProxy(scope, 4, false);
    await writeFile(join(cwd, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
    const run = await runYoda(server.port, cwd, ['CRT t', 'UPD t big.bin', 'RDT t', 'XIT'], SCALE);
    expect(run.code).toBe(0);
    const given = `Upload of big.bin failed: ${TOO_MANY_TRANSFERS_TEXT} (refused before it began in unauthenticated answers, 4 tries in 0.07 s; nothing was stored)`;
    expect(run.stdout).toBe(WELCOME + answered(['Thread t created'], [given], ['Thread t is empty'], ['Goodbye']));
    expect(withoutFirstContact(run.stderr)).toBe(notices('Upload of big.bin', 'UPD'));
    expect([proxy.evicted(), proxy.passed()]).toEqual([4, 0]);
  });
});

describe('forum-client: a refusal for want of room forged after the upload was stored (real processes)', () => {
  const scope = cleanupAfterEach();

  it('the new UPD is answered "File already exists": never stored twice, and the earlier try is said to be the one that may be stored', async () => {
    // The refusal is in clear: anyone on the path may write it in place of the server's sealed OK.
    const { proxy, server, cwd } = await behindForgingProxy(scope);
    const run = await runYoda(server.port, cwd, ['CRT t', 'UPD t f.txt', 'RDT t', 'XIT'], 0.01);
    expect(run.code).toBe(0);
    expect(proxy.forged()).toBe(true);
    expect(run.stdout).toBe(
      WELCOME +
        answered(['Thread t created'], ['File already exists in Thread t', earlierTryLine('f.txt', 't')], ['yoda uploaded f.txt'], ['Goodbye']),
    );
    expect(earlierTryLine('f.txt', 't')).toBe('Upload of f.txt: an earlier try, refused in clear after its last byte was sent, may be the one stored (RDT t shows who uploaded it)');
    // Before: `Upload of f.txt not begun (…)`, of a try the thread held.
    expect(run.stderr).toContain(
      `Upload of f.txt refused (unauthenticated, sent in clear: ${TOO_MANY_TRANSFERS_TEXT}) after its last byte was sent: trying again in 0.01 s with a new UPD; if that try was stored, the new UPD is refused as a name already in the thread\n`,
    );
    expect(run.stderr).not.toContain('not begun');
  });
});

describe('forum-client: Ctrl-C, or the server gone, in the pause after a refusal forged once the upload was stored (real processes)', () => {
  const scope = cleanupAfterEach();

  it('is not said to have cancelled the upload: the earlier try is stored, so its outcome is said to be unknown', async () => {
    // The real pauses (1 s first): the Ctrl-C comes as the first is said, well inside it.
    const { proxy, server, cwd, client } = await inFirstPause(scope);
    client.child.kill('SIGINT');
    client.child.stdin?.end();
    expect(await client.exited).toBe(130);
    expect(proxy.forged()).toBe(true);
    // Before: `Upload of f.txt cancelled`, of a file the thread holds.
    const unknown = 'Upload of f.txt: cancelled (an earlier try was refused in clear after its last byte was sent); it may or may not have been stored (RDT t shows it if it was)';
    expect(client.stdout.text).toContain(`${unknown}\n`);
    expect(client.stdout.text).not.toContain('Upload of f.txt cancelled');
    const rdt = await runYoda(server.port, cwd, ['RDT t', 'XIT']);
    expect(rdt.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['yoda uploaded f.txt'], ['Goodbye']));
  });

  it('the server gone in the pause: the session ends as unreachable, and the upload, stored, is first said to be of unknown outcome', async () => {
    const { proxy, server, client } = await inFirstPause(scope);
    // The server's end comes in the pause or as the new UPD is asked for: either way, after the forged refusal.
    server.child.kill('SIGKILL');
    expect(await client.exited).toBe(1);
    expect(proxy.forged()).toBe(true);
    // Before: only the notice, then `Server unreachable: …`; nothing said the upload may be stored, and it was.
    expect(client.stdout.text).toContain(`Upload of f.txt: refused by an unauthenticated answer (sent in clear): ${TOO_MANY_TRANSFERS_TEXT}; it may or may not have been stored (RDT t shows it if it was)\n`);
    expect(withoutFirstContact(client.stderr.text)).toMatch(/\nServer unreachable: [^\n]*\n$/);
  });
});
