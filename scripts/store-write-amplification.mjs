#!/usr/bin/env node
// Bytes written per byte stored by the data-directory store (issue 15, finding 5).
// Usage (after `pnpm build`): node scripts/store-write-amplification.mjs [--thread-mib 5.9] [--message-bytes 4000] [--accounts 7000] [--concurrency 50]
// Builds one thread from MSG-sized appends and creates accounts, one at a time
// and then `--concurrency` at a time (as many clients at once would),
// through forum-protocol's built store (dist), in a fresh directory under the
// OS temp dir. For each phase it counts the bytes the store writes to files
// (every FileHandle write/writeFile call is wrapped: what the store asks for)
// and reads this process's /proc/self/io `write_bytes` before and after (the
// page cache it dirtied: what reaches the disk, in whole 4 KiB pages). Both are
// divided by the size of the resulting file. (`wchar` is not used: it also
// counts libuv's 8-byte eventfd wake-ups, one per file operation.)
// `--store PATH` measures another build of forum-protocol (e.g. an older commit's dist).
// Prints a Markdown table. Linux only (/proc).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    'thread-mib': { type: 'string', default: '5.9' },
    'message-bytes': { type: 'string', default: '4000' },
    accounts: { type: 'string', default: '7000' },
    concurrency: { type: 'string', default: '50' },
    store: { type: 'string', default: join(root, 'packages/forum-protocol/dist/index.js') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('node scripts/store-write-amplification.mjs [--thread-mib 5.9] [--message-bytes 4000] [--accounts 7000] [--concurrency 50]');
  process.exit(0);
}

const { openFileStore } = await import(pathToFileURL(resolve(values.store)).href);

// Bytes handed to file writes, counted at the FileHandle (fs/promises) level, which the store uses for every write.
let fileBytes = 0;
const probe = await open(fileURLToPath(import.meta.url), 'r');
const FileHandle = Object.getPrototypeOf(probe);
await probe.close();
for (const method of ['write', 'writeFile']) {
  const original = FileHandle[method];
  FileHandle[method] = function (data, ...rest) {
    if (typeof data === 'string') fileBytes += Buffer.byteLength(data, typeof rest[0] === 'string' ? rest[0] : 'utf8');
    else if (method === 'writeFile') fileBytes += data.byteLength;
    else fileBytes += typeof rest[1] === 'number' ? rest[1] : data.byteLength - (rest[0] ?? 0);
    return original.call(this, data, ...rest);
  };
}

const io = () => Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));
const measure = async (work) => {
  const before = io();
  const bytes0 = fileBytes;
  const t0 = performance.now();
  await work();
  const after = io();
  return { fileBytes: fileBytes - bytes0, writeBytes: after.write_bytes - before.write_bytes, ms: performance.now() - t0 };
};
const must = async (te) => {
  const r = await te();
  if (r._tag === 'Left') throw new Error(JSON.stringify(r.left));
  return r.right;
};

const targetBytes = Math.round(Number(values['thread-mib']) * 1024 * 1024);
const text = 'x'.repeat(Number(values['message-bytes']));
const accountCount = Number(values.accounts);
const append = (th) => ({ _tag: 'Right', right: { thread: { ...th, entries: [...th.entries, { kind: 'message', author: 'alice', text }] }, result: undefined } });

/** Runs `makeOne(i)` for i = 0, 1, … with `width` in flight until `done()`. */
const pool = async (width, done, makeOne) => {
  let next = 0;
  const worker = async () => {
    while (!done(next)) await makeOne(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
};

const mib = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
const row = (what, stored, m) => `| ${what} | ${mib(stored)} | ${mib(m.fileBytes)} (${(m.fileBytes / stored).toFixed(2)}×) | ${mib(m.writeBytes)} (${(m.writeBytes / stored).toFixed(2)}×) | ${(m.ms / 1000).toFixed(1)} s |`;
console.log('| workload | file size | bytes written to files (per byte stored) | page-cache bytes dirtied, /proc write_bytes (per byte stored) | time |');
console.log('|---|---|---|---|---|');
for (const width of [1, Number(values.concurrency)]) {
  const dir = mkdtempSync(join(tmpdir(), 'forum-amplification-'));
  try {
    const store = await must(openFileStore(dir));
    await must(store.createThread('big', 'alice'));
    let messages = 0;
    const thread = await measure(() =>
      pool(width, () => statSync(join(dir, 'big')).size >= targetBytes, async () => {
        await must(store.updateThread('big', append));
        messages++;
      }),
    );
    const threadSize = statSync(join(dir, 'big')).size;
    const accounts = await measure(() =>
      pool(width, (i) => i >= accountCount, (i) => must(store.createAccount({ username: `user${i}`, password: `password-${i}-${'p'.repeat(100)}` }))),
    );
    const credentialsSize = statSync(join(dir, 'credentials.txt')).size;
    const how = width === 1 ? 'one at a time' : `${width} at a time`;
    console.log(row(`one thread from ${messages} MSGs of ${text.length} B, ${how}`, threadSize, thread));
    console.log(row(`${accountCount} new accounts, ${how}`, credentialsSize, accounts));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
