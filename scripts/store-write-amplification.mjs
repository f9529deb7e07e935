#!/usr/bin/env node
// Bytes written per byte stored by the data-directory store (issue 15, finding 5).
// Usage (after `pnpm build`): node scripts/store-write-amplification.mjs [--thread-mib 5.9] [--message-bytes 4000] [--accounts 7000]
// Builds one thread from MSG-sized appends and creates accounts one by one,
// through forum-protocol's built store (dist), in a fresh directory under the
// OS temp dir. For each phase it reads this process's /proc/self/io before and
// after: `wchar` counts the bytes passed to write() calls (what the store asks
// for), `write_bytes` the bytes of page cache it dirtied (what reaches the disk,
// in whole 4 KiB pages). Both are divided by the size of the resulting file.
// Prints a Markdown table. Linux only (/proc).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { openFileStore } = await import(join(root, 'packages/forum-protocol/dist/index.js'));

const { values } = parseArgs({
  options: {
    'thread-mib': { type: 'string', default: '5.9' },
    'message-bytes': { type: 'string', default: '4000' },
    accounts: { type: 'string', default: '7000' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('node scripts/store-write-amplification.mjs [--thread-mib 5.9] [--message-bytes 4000] [--accounts 7000]');
  process.exit(0);
}

const io = () => Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));
const measure = async (work) => {
  const before = io();
  const t0 = performance.now();
  await work();
  const after = io();
  return { wchar: after.wchar - before.wchar, writeBytes: after.write_bytes - before.write_bytes, ms: performance.now() - t0 };
};
const must = async (te) => {
  const r = await te();
  if (r._tag === 'Left') throw new Error(JSON.stringify(r.left));
  return r.right;
};

const dir = mkdtempSync(join(tmpdir(), 'forum-amplification-'));
try {
  const store = await must(openFileStore(dir));
  const targetBytes = Math.round(Number(values['thread-mib']) * 1024 * 1024);
  const text = 'x'.repeat(Number(values['message-bytes']));
  await must(store.createThread('big', 'alice'));
  let messages = 0;
  const thread = await measure(async () => {
    while (statSync(join(dir, 'big')).size < targetBytes) {
      await must(
        store.updateThread('big', (th) => ({ _tag: 'Right', right: { thread: { ...th, entries: [...th.entries, { kind: 'message', author: 'alice', text }] }, result: undefined } })),
      );
      messages++;
    }
  });
  const threadSize = statSync(join(dir, 'big')).size;

  const accountCount = Number(values.accounts);
  const accounts = await measure(async () => {
    for (let i = 0; i < accountCount; i++) await must(store.createAccount({ username: `user${i}`, password: `password-${i}-${'p'.repeat(100)}` }));
  });
  const credentialsSize = statSync(join(dir, 'credentials.txt')).size;

  const mib = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
  const row = (what, stored, m) => `| ${what} | ${mib(stored)} | ${mib(m.wchar)} (${(m.wchar / stored).toFixed(2)}×) | ${mib(m.writeBytes)} (${(m.writeBytes / stored).toFixed(2)}×) | ${(m.ms / 1000).toFixed(1)} s |`;
  console.log('| workload | file size | write() bytes (per byte stored) | page-cache bytes dirtied, /proc write_bytes (per byte stored) | time |');
  console.log('|---|---|---|---|---|');
  console.log(row(`one thread from ${messages} MSGs of ${text.length} B`, threadSize, thread));
  console.log(row(`${accountCount} new accounts`, credentialsSize, accounts));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
