/**
 * The root README's demo (`pnpm demo` = build, then scripts/demo.mjs) run as the README runs it, against
 * the binaries the suite built: it must end "Demo OK". It broke once unseen (the data directory gained
 * `.forum-account-origins` and the demo's check of what a run leaves there said FAILED) because nothing
 * in the suite ran it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const demo = fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url));

describe('the README demo (scripts/demo.mjs)', () => {
  it('runs its three client sessions against a fresh server and ends "Demo OK", status 0', async () => {
    const child = spawn(process.execPath, [demo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(`${String(code)}\n${out.slice(-300)}${err}`).toBe(`0\n${out.slice(-300)}`);
    expect(out).toContain('Demo OK: every command answered as forum-spec.md says, and the download matches the upload.');
  }, 30_000);
});
