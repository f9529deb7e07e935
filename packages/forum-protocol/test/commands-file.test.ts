import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../src/index.js';
import { commandSuite } from './command-suite.js';

commandSuite('data-directory', async (options = {}) => {
  const opened = await openFileStore(mkdtempSync(join(tmpdir(), 'forum-suite-')), options)();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return opened.right;
});
