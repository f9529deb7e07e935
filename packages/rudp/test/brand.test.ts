/**
 * The brand behind `instanceof` across rudpx's two builds: a class branded
 * again under the same name and line (another build of this release) is
 * recognised, one of another release line is not, and the line named in the
 * key follows package.json's version.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { brand, RELEASE_LINE } from '../src/node/brand.js';
import { RudpError } from '../src/node/rudp-error.js';

/** A stand-in for `RudpError` as another copy of rudpx defines it. */
function copyOfRudpError(line?: string): new () => object {
  class Copy {}
  if (line === undefined) brand(Copy, 'RudpError');
  else brand(Copy, 'RudpError', line);
  return Copy;
}

describe('brand', () => {
  it("recognises another build's object of the same release line, not one of another line", () => {
    expect(new (copyOfRudpError())() instanceof RudpError).toBe(true);
    expect(new (copyOfRudpError('0.2'))() instanceof RudpError).toBe(false);
    expect(new (copyOfRudpError('1'))() instanceof RudpError).toBe(false);
  });

  it("names package.json's release line (semver's major, or the minor while at 0.x)", () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const [major, minor] = version.split('.');
    expect(RELEASE_LINE).toBe(major === '0' ? `0.${minor}` : major);
  });
});
