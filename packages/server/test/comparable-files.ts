import { createHash } from 'node:crypto';

/** Contents of up to this many bytes are compared as they are by {@link comparableFiles}; larger ones by length and SHA-256. */
const COMPARED_AS_TEXT_MAX = 4096;

/**
 * `files` (forum-processes.ts' `snapshotDir`) for `toEqual`: name → the bytes as latin1 text (one character a byte, so exact, and a
 * diff shows a thread's lines), or `N bytes, SHA-256 …` for a file over {@link COMPARED_AS_TEXT_MAX} bytes. vitest
 * compares Buffers element by element: a 300 KB one took 2-5 s of CPU, the test process's event loop stood still
 * meanwhile, and a relay in it (e2e-commands' other case, side by side) forwarded nothing: at load 11-27 (2 cores), over the
 * server's 10 s idle timeout, whose session was then gone.
 */
export const comparableFiles = (files: ReadonlyMap<string, Uint8Array>): Map<string, string> =>
  new Map(
    [...files].map(([name, bytes]) => [
      name,
      bytes.length <= COMPARED_AS_TEXT_MAX ? Buffer.from(bytes).toString('latin1') : `${bytes.length} bytes, SHA-256 ${createHash('sha256').update(bytes).digest('hex')}`,
    ]),
  );
