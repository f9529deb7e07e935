/** The one helper that reads a system call error's code, for every file-system check of the client. */
import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { errorCode } from '../src/error-code.js';

describe('errorCode', () => {
  it('is the code of a real file-system error', async () => {
    const e = await access('/no/such/place/at/all').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(errorCode(e)).toBe('ENOENT');
  });

  it('is undefined for whatever else was thrown, never a TypeError or the text "undefined"', () => {
    // download-place.ts's own codeOf threw on null and turned a missing code into 'undefined'.
    for (const thrown of [null, undefined, 'EACCES', 13, new Error('no code'), { code: 13 }]) expect(errorCode(thrown)).toBeUndefined();
    expect(errorCode({ code: 'EACCES' })).toBe('EACCES');
  });
});
