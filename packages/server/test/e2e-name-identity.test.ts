/**
 * One identity per name (issue 15, finding 2), against the built
 * forum-server: raw JSON requests carrying lone surrogates, invisible and
 * bidi characters, decomposed letters and mixed-script look-alikes are
 * refused with a clear line; names equal after case folding are one name, so
 * another user can neither overwrite nor remove a thread or an upload by
 * spelling it differently; and after a restart everything is as before.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, snapshotDir, startServer } from './forum-processes.js';
import { rawClient, rawLogin, sealedExchange, type RawClient } from './raw-client.js';
import type { Reply, ServerMessage } from 'forum-protocol';

/** A request as raw JSON text, so escapes such as `\ud800` reach the server exactly as written. */
const rawJson = (id: string, cmd: string, argsJson: string): Uint8Array => new TextEncoder().encode(`{"id":"${id}","username":"","cmd":"${cmd}","args":[${argsJson}]}`);
const lineOf = (m: ServerMessage): string => (m.type === 'reply' ? (m.lines[0] ?? '') : JSON.stringify(m));

describe('names have one identity (real server, raw JSON)', () => {
  const scope = cleanupAfterEach();
  const clients: RawClient[] = [];
  const login = async (port: number, user: string): Promise<RawClient> => {
    const c = await rawClient(port);
    clients.push(c);
    const r = await rawLogin(c, user, `${user}-pw`);
    expect(r.lines).toEqual(['Welcome to the forum']);
    return c;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  };

  it('lone surrogates, invisible, bidi, line-separator, NFD and mixed-script names are refused for every kind of name', async () => {
    const { server } = await scope.startInTemp();
    try {
      const alice = await login(server.port, 'alice');
      const hostile: readonly [string, RegExp][] = [
        ['"t\\ud800"', /must be well-formed Unicode/],
        ['"t\\udfff"', /must be well-formed Unicode/],
        ['"\\udc00\\ud800"', /must be well-formed Unicode/],
        ['"zero\\u200bwidth"', /invisible or formatting characters \(U\+200B\)/],
        ['"gpj.\\u202eexe"', /U\+202E/],
        ['"x\\u2066y\\u2069"', /U\+2066/],
        ['"line\\u2028sep"', /line or paragraph separators \(U\+2028\)/],
        ['"cafe\\u0301"', /normalization form NFC/],
        ['"\\u0430dmin"', /must not mix scripts \(Cyrillic and Latin\)/],
      ];
      let i = 0;
      for (const [json, why] of hostile) {
        expect(lineOf(await alice.sendRaw(rawJson(`c${i++}`, 'CRT', json)))).toMatch(new RegExp(`^Invalid thread title: .*${why.source}`));
        expect(lineOf(await alice.sendRaw(rawJson(`u${i++}`, 'UPD', `"ok",${json}`)))).toMatch(new RegExp(`^Invalid file name: .*${why.source}`));
        const fresh = await rawClient(server.port);
        clients.push(fresh);
        expect(lineOf(await fresh.sendRaw(rawJson(`n${i++}`, 'username', json)))).toMatch(new RegExp(`^Invalid username: .*${why.source}`));
      }
      // A message may not carry what would split or corrupt its line.
      expect((await alice.request('crt', 'CRT', ['ok'])).lines).toEqual(['Thread ok created']);
      expect(lineOf(await alice.sendRaw(rawJson('m1', 'MSG', '"ok","a\\u2028b"')))).toMatch(/^Invalid message: .*U\+2028/);
      expect(lineOf(await alice.sendRaw(rawJson('m2', 'MSG', '"ok","a\\ud800"')))).toMatch(/^Invalid message: .*well-formed/);
      // A user name may not hold the message line's separator.
      const colon = await rawClient(server.port);
      clients.push(colon);
      expect(lineOf(await colon.sendRaw(rawJson('n', 'username', '"bob:"')))).toBe("Invalid username: must not contain ':'");
      await closeAll();
      expect([...(await snapshotDir(server.dataDir)).keys()]).toEqual(['credentials.txt', 'ok']);
      expect(await readFile(join(server.dataDir, 'credentials.txt'), 'utf8')).toBe('alice alice-pw\n');
    } finally {
      await closeAll();
    }
  }, 60_000);

  it('another spelling of a thread or upload is the same name: it cannot be created twice, overwritten or removed by another user', async () => {
    const { server } = await scope.startInTemp();
    try {
      const alice = await login(server.port, 'alice');
      const mallory = await login(server.port, 'mallory');
      expect((await alice.request('1', 'CRT', ['Notes'])).lines).toEqual(['Thread Notes created']);
      expect((await alice.request('2', 'MSG', ['Notes', 'hello'])).lines).toEqual(['Message posted to Notes thread']);
      for (const spelling of ['notes', 'NOTES', 'nOtEs']) {
        expect((await mallory.request(`c-${spelling}`, 'CRT', [spelling])).lines).toEqual([`Thread ${spelling} exists`]);
        expect((await mallory.request(`r-${spelling}`, 'RMV', [spelling])).lines).toEqual(['The thread was created by another user and cannot be removed']);
        expect((await mallory.request(`e-${spelling}`, 'EDT', [spelling, '1', 'pwned'])).lines).toEqual(['The message belongs to another user and cannot be edited']);
      }
      // RDT through another spelling reads the one thread.
      expect((await mallory.request('rdt', 'RDT', ['NOTES'])).lines).toEqual(['1 alice: hello']);

      // Alice uploads plan.txt; Mallory may not upload Plan.TXT over it.
      const up = await alice.request('up', 'UPD', ['Notes', 'plan.txt']);
      if (up.data.kind !== 'transfer') throw new Error(`expected a transfer grant: ${JSON.stringify(up)}`);
      expect(await sealedExchange(server.tcpPort, alice, up.data.token, '5\nalice')).toBe('OK\n');
      expect((await mallory.request('up2', 'UPD', ['notes', 'Plan.TXT'])).lines).toEqual(['File already exists in Thread notes']);
      // A thread named like the upload's file (`Notes-plan.txt`) is the same file on a case-insensitive disk.
      expect((await mallory.request('c2', 'CRT', ['NOTES-PLAN.txt'])).lines).toEqual(['Thread NOTES-PLAN.txt exists']);
      // The owner's download, by any spelling, returns the owner's bytes.
      const down = await mallory.request('dwn', 'DWN', ['NOTES', 'PLAN.txt']);
      if (down.data.kind !== 'transfer') throw new Error(`expected a transfer grant: ${JSON.stringify(down)}`);
      expect(await sealedExchange(server.tcpPort, mallory, down.data.token, '')).toBe('OK 5\nalice');

      // A second account under another spelling of a user name is refused.
      const twin = await rawClient(server.port);
      clients.push(twin);
      expect((await twin.request('u', 'username', ['Alice'])).lines).toEqual([
        'Invalid username: Alice is the same name as the existing user alice (names differing only in letter case are one name)',
      ]);
      await closeAll();

      // After a restart everything is as it was.
      const before = await snapshotDir(server.dataDir);
      await server.stop();
      const again = await startServer(server.dataDir);
      scope.servers.push(again);
      expect(await snapshotDir(server.dataDir)).toEqual(before);
      const reader = await rawClient(again.port);
      clients.push(reader);
      await rawLogin(reader, 'alice', 'alice-pw');
      const lst: Reply = await reader.request('l', 'LST', []);
      expect(lst.lines).toEqual(['The list of active threads:', 'Notes']);
      expect((await reader.request('r', 'RDT', ['notes'])).lines).toEqual(['1 alice: hello', 'alice uploaded plan.txt']);
      expect([...before.keys()].sort()).toEqual(['Notes', 'Notes-plan.txt', 'credentials.txt']);
    } finally {
      await closeAll();
    }
  }, 60_000);
});
