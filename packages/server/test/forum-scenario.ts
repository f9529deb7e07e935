/**
 * The scripted sessions run directly and through the lossy relay: every
 * command and every error string, with the stdout and files they must give.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { comparableFiles } from './comparable-files.js';
import { answered, P, runClient, seededBytes, snapshotDir } from './forum-processes.js';

export const UPLOAD = seededBytes(300_000, 7);

/** Session A: yoda creates an account and uses every command and error. */
export const SCRIPT_A = [
  'yoda', 'pw1',
  'CRT t1', 'CRT t1',
  'MSG t1 hello  there', 'MSG t1 second message', 'MSG nothread x',
  'LST', 'RDT t1',
  'EDT t1 2 second, edited', 'EDT t1 9 x', 'DLT t1 0', 'DLT t1 1',
  'CRT empty', 'RDT empty', 'RDT nothread',
  'UPD t1 up.bin', 'UPD t1 up.bin', 'UPD t1 missing.bin',
  'DWN t1 nofile', 'DWN nothread up.bin', 'UPD nothread up.bin', 'EDT nothread 1 x', 'DLT nothread 1',
  'FOO', 'crt t1', '', 'CRT', 'LST extra', 'DLT t1 x', 'MSG t1', 'UPD t1', 'CRT a/b', 'UPD t1 ..x', 'XIT',
];

export const EXPECTED_A =
  P.user + P.newPass + 'Welcome to the forum\n' +
  answered(
    ['Thread t1 created'], ['Thread t1 exists'],
    ['Message posted to t1 thread'], ['Message posted to t1 thread'], ['Thread nothread does not exist'],
    ['The list of active threads:', 't1'], ['1 yoda: hello  there', '2 yoda: second message'],
    ['The message has been edited'], ['Invalid message number'], ['Invalid message number'], ['The message has been deleted'],
    ['Thread empty created'], ['Thread empty is empty'], ['Thread nothread does not exist'],
    ['up.bin uploaded to t1 thread'], ['File already exists in Thread t1'], ['File missing.bin does not exist'],
    ['File does not exist in Thread t1'], ['Thread nothread does not exist'], ['Thread nothread does not exist'],
    ['Thread nothread does not exist'], ['Thread nothread does not exist'],
    // The client adds the command's usage line after the spec's `Incorrect syntax for CMD` (issue 16).
    ['Invalid command'], ['Invalid command'], ['Invalid command'], ['Incorrect syntax for CRT', 'Usage: CRT <title>'], ['Incorrect syntax for LST', 'Usage: LST'],
    ['Incorrect syntax for DLT', 'Usage: DLT <title> <N>'], ['Incorrect syntax for MSG', 'Usage: MSG <title> <message…>'], ['Incorrect syntax for UPD', 'Usage: UPD <title> <filename>'],
    ["Invalid thread title: must not contain '/'"], ["Invalid file name: must not contain '..'"], ['Goodbye'],
  );

export const SERVER_A = [
  'Client authenticating', 'New user', 'yoda successfully logged in',
  'yoda issued CRT command', 'yoda issued CRT command',
  'yoda issued MSG command', 'yoda issued MSG command', 'yoda issued MSG command', 'Incorrect thread specified',
  'yoda issued LST command', 'yoda issued RDT command',
  'yoda issued EDT command', 'yoda issued EDT command', 'Invalid message number', 'yoda issued DLT command', 'Invalid message number', 'yoda issued DLT command',
  'yoda issued CRT command', 'yoda issued RDT command', 'yoda issued RDT command', 'Incorrect thread specified',
  'yoda issued UPD command', 'yoda uploaded up.bin to t1 thread', 'yoda issued UPD command',
  'yoda issued DWN command', 'yoda issued DWN command', 'Incorrect thread specified', 'yoda issued UPD command', 'Incorrect thread specified',
  'yoda issued EDT command', 'Incorrect thread specified', 'yoda issued DLT command', 'Incorrect thread specified',
  'yoda issued XIT command', 'yoda exited',
];

/** Session B: a wrong password, then obi (new) meets yoda's ownership rules and downloads. Ends at end of input. */
export const SCRIPT_B = [
  'yoda', 'wrong', 'obi', 'pw2',
  'LST', 'MSG t1 from obi', 'EDT t1 1 hijack', 'DLT t1 1', 'RMV t1', 'DWN t1 up.bin', 'RDT t1',
  'RMV nothread', 'CRT obis', 'RMV obis',
];

export const EXPECTED_B =
  P.user + P.pass + 'Invalid password\n' + P.user + P.newPass + 'Welcome to the forum\n' +
  answered(
    ['The list of active threads:', 'empty', 't1'], ['Message posted to t1 thread'],
    ['The message belongs to another user and cannot be edited'], ['The message belongs to another user and cannot be edited'],
    ['The thread was created by another user and cannot be removed'], ['up.bin successfully downloaded'],
    ['1 yoda: second, edited', 'yoda uploaded up.bin', '2 obi: from obi'],
    ['Thread nothread does not exist'], ['Thread obis created'], ['Thread obis removed'],
  ) + P.cmd + '\nGoodbye\n';

export const SERVER_B = [
  'Client authenticating', 'Incorrect password', 'Client authenticating', 'New user', 'obi successfully logged in',
  'obi issued LST command', 'obi issued MSG command', 'obi issued EDT command', 'obi issued DLT command', 'obi issued RMV command',
  'obi issued DWN command', 'obi downloaded up.bin from t1 thread', 'obi issued RDT command',
  'obi issued RMV command', 'Incorrect thread specified', 'obi issued CRT command', 'obi issued RMV command',
  'obi issued XIT command', 'obi exited',
];

/** Session C: yoda logs in again and removes t1 with its upload. */
export const SCRIPT_C = ['yoda', 'pw1', 'RMV t1', 'LST', 'RDT t1', 'XIT'];
export const EXPECTED_C =
  P.user + P.pass + 'Welcome to the forum\n' +
  answered(['Thread t1 removed'], ['The list of active threads:', 'empty'], ['Thread t1 does not exist'], ['Goodbye']);
export const SERVER_C = [
  'Client authenticating', 'yoda successful login', 'yoda issued RMV command', 'yoda issued LST command',
  'yoda issued RDT command', 'Incorrect thread specified', 'yoda issued XIT command', 'yoda exited',
];

/** Files of the data directory after sessions A and B. */
export const expectedFilesAfterB = (): Map<string, Buffer> =>
  new Map([
    ['credentials.txt', Buffer.from('yoda pw1\nobi pw2\n')],
    ['empty', Buffer.from('yoda\n')],
    ['t1', Buffer.from('yoda\n1 yoda: second, edited\nyoda uploaded up.bin\n2 obi: from obi\n')],
    ['t1-up.bin', UPLOAD],
  ]);

/**
 * Runs A, B and C against the server reachable at `port` (directly or via a
 * relay), checking every client's stdout, exit code and the files on disk;
 * `clientArgs` are the clients' extra arguments.
 */
export const runScenario = async (
  port: number,
  dataDir: string,
  workDir: string,
  serverLines: () => string[],
  clientArgs: readonly string[] = [],
): Promise<void> => {
  const cwdA = join(workDir, 'a');
  const cwdB = join(workDir, 'b');
  await mkdir(cwdA, { recursive: true });
  await mkdir(cwdB, { recursive: true });
  await writeFile(join(cwdA, 'up.bin'), UPLOAD);

  const a = await runClient(port, cwdA, SCRIPT_A, clientArgs);
  // Its stderr the message: why a client that failed did (`Unable to reach the server`, …).
  expect(a.stdout, a.stderr).toBe(EXPECTED_A);
  expect(a.code).toBe(0);

  const b = await runClient(port, cwdB, SCRIPT_B, clientArgs);
  expect(b.stdout, b.stderr).toBe(EXPECTED_B);
  expect(b.code).toBe(0);
  // Compared as text or digests: vitest's deep equality of the 300 KB upload held the event loop seconds (comparableFiles).
  expect(comparableFiles(await snapshotDir(cwdB))).toEqual(comparableFiles(new Map([['up.bin', UPLOAD]])));
  expect(comparableFiles(await snapshotDir(dataDir))).toEqual(comparableFiles(expectedFilesAfterB()));

  const c = await runClient(port, cwdA, SCRIPT_C, clientArgs);
  expect(c.stdout, c.stderr).toBe(EXPECTED_C);
  expect(c.code).toBe(0);
  const after = expectedFilesAfterB();
  after.delete('t1');
  after.delete('t1-up.bin');
  expect(comparableFiles(await snapshotDir(dataDir))).toEqual(comparableFiles(after));

  expect(serverLines()).toEqual(['Waiting for clients', ...SERVER_A, ...SERVER_B, ...SERVER_C]);
};
