import * as E from 'fp-ts/lib/Either.js';
import { ForumCommand } from './commands.js';
import { MAX_ARG_BYTES } from './limits.js';
import { validateMessageText, validateName } from './names.js';

/**
 * Why a typed line or a request's arguments were refused; `text` is the exact
 * line to print (`Invalid command`, `Incorrect syntax for MSG`,
 * `Invalid thread title: must not contain '/'`, …).
 */
export interface GrammarError {
  readonly kind: 'invalidCommand' | 'incorrectSyntax' | 'invalidArgument';
  readonly text: string;
}

/** A command line that passed the grammar: the word and its arguments, ready to send. */
export interface ParsedCommand {
  readonly cmd: ForumCommand;
  readonly args: readonly string[];
}

type ArgKind = 'title' | 'filename' | 'number' | 'message';

/**
 * The argument list of each command. A trailing `message` swallows the rest of
 * the typed line, so `MSG` and `EDT` take "at least" that many words.
 */
export const COMMAND_ARGS: Readonly<Record<ForumCommand, readonly ArgKind[]>> = {
  CRT: ['title'],
  MSG: ['title', 'message'],
  DLT: ['title', 'number'],
  EDT: ['title', 'number', 'message'],
  LST: [],
  RDT: ['title'],
  UPD: ['title', 'filename'],
  DWN: ['title', 'filename'],
  RMV: ['title'],
  XIT: [],
};

// A message number is syntactically any run of digits; whether message N
// exists (0, too large) is the handler's `Invalid message number`.
const DIGITS = /^[0-9]+$/;

const syntax = (cmd: ForumCommand): GrammarError => ({ kind: 'incorrectSyntax', text: `Incorrect syntax for ${cmd}` });

const checkArg = (cmd: ForumCommand, kind: ArgKind, value: string): E.Either<GrammarError, string> => {
  const invalid = (text: string): GrammarError => ({ kind: 'invalidArgument', text });
  switch (kind) {
    case 'title':
      return E.mapLeft(invalid)(validateName('thread title', value));
    case 'filename':
      return E.mapLeft(invalid)(validateName('file name', value));
    case 'number':
      return DIGITS.test(value) ? E.right(value) : E.left(syntax(cmd));
    case 'message':
      return E.mapLeft(invalid)(validateMessageText(value, MAX_ARG_BYTES));
  }
};

/**
 * Validates the arguments of a forum command as carried in a request: exactly
 * as many as {@link COMMAND_ARGS} lists, each valid. The server runs this on
 * every request, so a client that skipped the grammar gains nothing.
 */
export const validateArgs = (cmd: ForumCommand, args: readonly string[]): E.Either<GrammarError, readonly string[]> => {
  const kinds = COMMAND_ARGS[cmd];
  if (args.length !== kinds.length) return E.left(syntax(cmd));
  const out: string[] = [];
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i];
    const value = args[i];
    if (kind === undefined || value === undefined) return E.left(syntax(cmd));
    const checked = checkArg(cmd, kind, value);
    if (E.isLeft(checked)) return checked;
    out.push(checked.right);
  }
  return E.right(out);
};

/**
 * Parses a line the user typed (`MSG title some words`) into a command and its
 * arguments. Words are separated by whitespace; the message of `MSG`/`EDT` is
 * the rest of the line after the preceding word, with its inner spacing kept
 * and its ends trimmed. The command word is case-sensitive.
 *
 * Errors, in the order checked: unknown word → `Invalid command`; wrong number
 * of words or a message number that is not all digits →
 * `Incorrect syntax for CMD`; a bad title, file name or message → a line
 * naming the rule it broke.
 */
export const parseCommandLine = (line: string): E.Either<GrammarError, ParsedCommand> => {
  const words = [...line.matchAll(/\S+/g)];
  const first = words[0];
  if (first === undefined || !ForumCommand.is(first[0])) return E.left({ kind: 'invalidCommand', text: 'Invalid command' });
  const cmd = first[0];
  const kinds = COMMAND_ARGS[cmd];
  const swallowsRest = kinds[kinds.length - 1] === 'message';
  const given = words.length - 1;
  if (swallowsRest ? given < kinds.length : given !== kinds.length) return E.left(syntax(cmd));
  const args = kinds.map((kind, i) => {
    if (kind === 'message') {
      const before = words[i];
      const start = before === undefined ? 0 : (before.index ?? 0) + before[0].length;
      return line.slice(start).trim();
    }
    return words[i + 1]?.[0] ?? '';
  });
  return E.map((checked: readonly string[]): ParsedCommand => ({ cmd, args: checked }))(validateArgs(cmd, args));
};
