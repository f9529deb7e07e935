import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatThreadFile, openFileStore } from '../src/index.js';
import { commandSuite } from './command-suite.js';

commandSuite('data-directory', async ({ threads = [], ...options } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-suite-'));
  for (const th of threads) writeFileSync(join(dir, th.title), formatThreadFile(th));
  const opened = await openFileStore(dir, options)();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return opened.right;
});
