import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as E from 'fp-ts/lib/Either.js';

/** The options a binary takes, as `node:util`'s `parseArgs` declares them. */
export type ProgramOptions = NonNullable<ParseArgsConfig['options']>;

/** What `parseArgs` returns for `options`, read the way {@link parseProgramArguments} reads them. */
type Parsed<O extends ProgramOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true; tokens: true }>>;

/** A command line read against its options: the options' values, and the positionals. */
export interface ProgramArguments<O extends ProgramOptions> {
  readonly values: Parsed<O>['values'];
  readonly positionals: Parsed<O>['positionals'];
}

/** The name of the first option given more than once in `parseArgs`'s tokens, or `undefined`. */
const repeatedOption = (tokens: readonly { readonly kind: string; readonly name?: string }[]): string | undefined => {
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    if (seen.has(t.name)) return t.name;
    seen.add(t.name);
  }
  return undefined;
};

/**
 * `argv` (without `node` and the script) read strictly against `options`, positionals allowed: its values
 * and positionals, or the message saying what is wrong (an unknown option, a value missing, an option given
 * more than once). `parseArgs` keeps the last of a repeated option silently, so `--data-dir a --data-dir b`
 * would run on `b` without a word: both binaries refuse it instead. Never throws.
 */
export const parseProgramArguments = <O extends ProgramOptions>(argv: readonly string[], options: O): E.Either<string, ProgramArguments<O>> => {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options, tokens: true });
  } catch (e) {
    return E.left(e instanceof Error ? e.message : 'bad arguments');
  }
  const repeated = repeatedOption(parsed.tokens);
  if (repeated !== undefined) return E.left(`--${repeated} given more than once`);
  return E.right({ values: parsed.values, positionals: parsed.positionals });
};
