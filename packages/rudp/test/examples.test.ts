/**
 * Runs every script in examples/ as a user would (`node examples/x.mjs`,
 * importing the built package by its name), so CI keeps them working.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(pkgDir, 'dist', 'index.js'));
const run = promisify(execFile);

/** What each example must print (a line each). */
const expected: Readonly<Record<string, readonly RegExp[]>> = {
  'echo.mjs': [/^server: 127\.0\.0\.1:\d+ connected$/, /^client: sent hello, got back hello$/, /^client: sent world, got back world$/, /^client: smoothed RTT [\d.]+ ms$/],
  'echo.cjs': [/^client: got back 3\.141592653589793$/, /^client: ENOTFOUND$/],
  'chat.mjs': [/^alice hears: \* bob joined$/, /^bob hears: \* carol joined$/, /^carol hears: <bob> hi all$/, /^alice hears: <carol> hello bob$/, /^bob hears: <carol> hello bob$/],
  'file-transfer.mjs': [/^sent 8388608 bytes in [\d.]+ s \([\d.]+ MB\/s\)$/, /^sha256 match$/],
};

describe.skipIf(!built)('examples/', () => {
  it('has an expectation for every example', () => {
    expect(readdirSync(join(pkgDir, 'examples')).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s runs, prints what it should and exits 0', async (file, lines) => {
    const { stdout, stderr } = await run(process.execPath, [join('examples', file)], { cwd: pkgDir, timeout: 60_000 });
    expect(stderr).toBe('');
    const out = stdout.trimEnd().split('\n');
    for (const re of lines) expect(out.some((l) => re.test(l)), `${file} printed ${JSON.stringify(out)}; wanted ${re}`).toBe(true);
  });
});
