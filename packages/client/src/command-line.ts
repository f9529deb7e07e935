import { ForumCommand, parseCommandLine, type ParsedCommand } from 'forum-protocol';
import { OVERWRITE_FLAG, usageLine } from './command-help.js';

/** What a line typed at the command prompt asks for. */
export type TypedCommand =
  /** `help` or `help CMD`: answered by the client. */
  | { readonly kind: 'help'; readonly topic: string | undefined }
  /** A forum command to send; `overwrite`: DWN may replace a local file. */
  | { readonly kind: 'forum'; readonly command: ParsedCommand; readonly overwrite: boolean }
  /** Refused before sending: the lines to print. */
  | { readonly kind: 'refused'; readonly lines: readonly string[] };

/**
 * Interprets a typed line. `help [CMD]` is the client's own; `DWN title file
 * --overwrite` is DWN with permission to replace the local file (the flag is
 * not sent: the server sees the spec's two arguments). Everything else goes
 * through forum-protocol's grammar, so its error lines are the spec's; an
 * `Incorrect syntax for CMD` is followed by the command's usage line.
 */
export const interpretLine = (line: string): TypedCommand => {
  const words = line.trim().split(/\s+/);
  if (words[0] === 'help') {
    const topic = words.slice(1).join(' ');
    return { kind: 'help', topic: topic === '' ? undefined : topic };
  }
  const overwrite = words[0] === 'DWN' && words.length === 4 && words[3] === OVERWRITE_FLAG;
  const parsed = parseCommandLine(overwrite ? line.slice(0, line.lastIndexOf(OVERWRITE_FLAG)) : line);
  if (parsed._tag === 'Right') return { kind: 'forum', command: parsed.right, overwrite };
  const first = words[0] ?? '';
  const usage = parsed.left.kind === 'incorrectSyntax' && ForumCommand.is(first) ? [usageLine(first)] : [];
  return { kind: 'refused', lines: [parsed.left.text, ...usage] };
};
