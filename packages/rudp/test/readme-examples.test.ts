/**
 * The code examples of the published README, so they cannot rot again: every
 * ```ts and ```js block is compiled against the BUILT package, imported by its
 * name as a user's project would (`scripts/readme-examples.mjs`: the comments
 * before a block give a fragment its surroundings, or say it runs), and the
 * ones marked `<!-- example: run -->` are run with node on loopback, their
 * output checked. A block that only declares an API (the congestion
 * controller's interface) must be the very type the package exports.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testReadmeExamples } from '../../../scripts/readme-example-tests.mjs';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));

const examples = testReadmeExamples(readmePath, {
  'Quick start': [/^hello$/],
  'Server identity and key pinning': [/^SHA256:[A-Za-z0-9+/]{43}$/, /^ERR_RUDP_SERVER_KEY_MISMATCH true$/, /^true$/],
  'Sans-IO core': [/^hello$/],
  'In the simulator': [/^1000 msg 0 msg 999$/],
});

describe('README.md examples, besides compiling and running', () => {
  it('finds the examples: every ```ts and ```js block, fragments with their surroundings, the declared API', () => {
    expect(examples.length).toBeGreaterThanOrEqual(9);
    expect(examples.filter((e) => e.given !== '').map((e) => e.heading)).toEqual(expect.arrayContaining(['Channels and delivery options', 'Backpressure', 'Streams']));
    expect(examples.find((e) => e.declares !== undefined)?.declares).toEqual({ names: ['CongestionController', 'CongestionControllerFactory'], from: 'rudpx/core' });
  });

  it('no example drops the promise of a send (`void conn.send(…)`): it rejects once the connection closes, an unhandled rejection that ends the process', () => {
    // The Channels example did so for position updates; `write` is the call that returns false instead. (Prose quoting it in backticks is fine.)
    const dropped = readFileSync(readmePath, 'utf8')
      .split('\n')
      .flatMap((l, i) => (/(^|[^`\w])void\s+[\w.]+\.send\(/.test(l) ? [`line ${i + 1}: ${l.trim()}`] : []));
    expect(dropped).toEqual([]);
  });
});
