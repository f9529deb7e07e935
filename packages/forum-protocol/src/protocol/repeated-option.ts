/** One token of `node:util`'s `parseArgs` with `tokens: true`, as far as {@link repeatedOption} reads it. */
export interface ArgToken {
  readonly kind: string;
  readonly name?: string;
}

/**
 * The name of the first option given more than once on a command line, or
 * `undefined`. `parseArgs` keeps the last value silently, so
 * `--data-dir a --data-dir b` would run on `b` without a word: both binaries
 * refuse it instead.
 */
export const repeatedOption = (tokens: readonly ArgToken[]): string | undefined => {
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    if (seen.has(t.name)) return t.name;
    seen.add(t.name);
  }
  return undefined;
};
