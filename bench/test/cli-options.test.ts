import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/cli-options.js';

describe('parseCli', () => {
  it('ignores the -- pnpm forwards and reads every option', () => {
    const o = parseCli(['--', '--scenario', 'chat', '--loss', '0.1', '--seed', '7', '--system', 'kcp-fast']);
    expect(o).toMatchObject({ scenarios: ['chat'], loss: 0.1, seed: 7, systems: ['kcp-fast'], partial: true, quick: false });
  });

  it('defaults to the full suite', () => {
    const o = parseCli([]);
    expect(o).toMatchObject({ partial: false, loss: undefined, seed: 1, seeds: [1, 2, 3, 4, 5] });
    expect(o instanceof Error ? [] : o.scenarios).toHaveLength(7);
    // relay-bulk is a part of udp: the full suite does not run it twice.
    expect(o instanceof Error ? [] : o.scenarios).not.toContain('relay-bulk');
  });

  it('accepts loopback (udp\'s throughput part) as a scenario of its own, not in the default set', () => {
    expect(parseCli(['--scenario', 'loopback'])).toMatchObject({ scenarios: ['loopback'], partial: true });
    const o = parseCli([]);
    expect(o instanceof Error ? [] : o.scenarios).not.toContain('loopback');
  });

  it('accepts relay-bulk as a scenario of its own', () => {
    expect(parseCli(['--scenario', 'relay-bulk'])).toMatchObject({ scenarios: ['relay-bulk'], partial: true });
  });

  it('runs seeds N … N+K−1, two by default with --quick', () => {
    expect(parseCli(['--seed', '4', '--seeds', '3'])).toMatchObject({ seeds: [4, 5, 6], partial: true });
    expect(parseCli(['--quick'])).toMatchObject({ seeds: [1, 2] });
  });

  it('rejects unknown names and bad numbers as Error values', () => {
    expect(parseCli(['--scenario', 'nope'])).toBeInstanceOf(Error);
    expect(parseCli(['--loss', '1.5'])).toBeInstanceOf(Error);
    expect(parseCli(['--seed', '-1'])).toBeInstanceOf(Error);
    expect(parseCli(['--seeds', '0'])).toBeInstanceOf(Error);
    expect(parseCli(['--bogus'])).toBeInstanceOf(Error);
  });
});
