import { FORUM_COMMANDS, type NextStep, type Reply } from 'forum-protocol';

/**
 * What a script (answers read from a file or pipe) does after the answer to one of its login lines:
 * - `go-on`: its next line answers the prompt the reply asks for (a refusal it may have planned for:
 *   `Invalid password` or `U has already logged in`, then a username, as the spec's flow has it);
 * - `retry`: the same answers again after a pause: `fault` (the server could not complete the login) or
 *   `busy` (`Server busy: …, try again later`: the server has no room now, which passes); `replay` says
 *   which: the login from its username (`login`), or the line just sent at the prompt still asked (`line`);
 * - `stop`: no line of the script can answer what follows. A username refused (invalid, unusable) is
 *   followed by the script's password, which was read as the next username: sent to the server as one, and
 *   a line later an account could be made of it, the first command its password.
 */
export type ScriptLoginStep =
  | { readonly kind: 'go-on' }
  | { readonly kind: 'retry'; readonly cause: 'fault' | 'busy'; readonly replay: 'login' | 'line' }
  | { readonly kind: 'stop' };

/** The transient refusal, in the server's words: it has no room now (not in the spec; it passes). */
const isBusy = (line: string): boolean => /^Server busy: .*, try again later$/.test(line);

/**
 * Another client holds the account: the spec asks for a username again, so a script written to it answers
 * with its next line (another account). Tried again with the same answers instead, such a script never got
 * to that line and never logged in.
 */
const isHeldElsewhere = (line: string, username: string): boolean => line === `${username} has already logged in`;

/** What a script does once `reply` answered its line at the `step` prompt, logging in as `username`. */
export const scriptLoginStep = (step: NextStep, reply: Reply, username: string): ScriptLoginStep => {
  if (reply.status === 'ok') return { kind: 'go-on' };
  const auth = reply.data.kind === 'auth' ? reply.data : undefined;
  if (auth?.fault === true) {
    // A fault that asks for another step than the username had the answers replayed at the wrong prompts:
    // the script's next line answers it, as any reply's.
    return auth.next === 'username' ? { kind: 'retry', cause: 'fault', replay: 'login' } : { kind: 'go-on' };
  }
  const refusal = reply.lines[0] ?? '';
  if (auth?.next === 'username' && isHeldElsewhere(refusal, username)) return { kind: 'go-on' };
  if (isBusy(refusal)) {
    if (auth === undefined) return { kind: 'retry', cause: 'busy', replay: 'line' };
    if (auth.next === 'username') return { kind: 'retry', cause: 'busy', replay: 'login' };
    return { kind: 'stop' };
  }
  // A password refused (wrong, throttled, the forum full): the login begins again, and a script may have
  // planned for that with another username (the spec's flow). Anything else, the next line was not written for it.
  return (step === 'password' || step === 'newPassword') && auth?.next === 'username' ? { kind: 'go-on' } : { kind: 'stop' };
};

/** The forum command a script's line starts with (`LST`, `CRT news`), if any: no username, whatever the prompt. */
export const commandWordOf = (line: string): string | undefined => {
  const word = line.split(' ')[0] ?? '';
  return (FORUM_COMMANDS as readonly string[]).includes(word) ? word : undefined;
};
