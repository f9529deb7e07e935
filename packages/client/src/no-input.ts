import { fstatSync } from 'node:fs';
import type { ClientState } from './client-state.js';

/**
 * What stderr says when the commands' input ended before its first line (`</dev/null`, an empty file, a closed
 * standard input, `printf '' |`): no session begun, and exit status 0, as the spec has the client exit cleanly
 * at the end of standard input. Before, the client connected and showed the username prompt to no one.
 */
export const NO_INPUT_TEXT =
  'No input: standard input ended before its first line (forum-client reads the username, the password and the commands from it, one a line); not logged in';

/**
 * Whether standard input can be read to its first line before connecting: a regular file or a device (a closed
 * standard input is one too: Node opens /dev/null in its place). Nothing waits for a prompt to write them. A pipe
 * or socket is not waited for: a program answering the prompts writes its lines once it sees one.
 */
export const inputReadableAhead = (): boolean => {
  try {
    const found = fstatSync(0);
    return found.isFile() || found.isCharacterDevice() || found.isBlockDevice();
  } catch {
    return false;
  }
};

/** A signal ended the input (its own line says so, not {@link NO_INPUT_TEXT}). */
export const inputEndedBySignal = (state: ClientState): boolean => state.terminated || state.hungUp || state.interrupts > 0;

/** A script's input that ended with no line, not by a signal: the session is not begun (or is ended unused). */
export const inputWasEmpty = (state: ClientState): boolean => state.scripted && !state.input.hadLine && !state.input.overlong && !inputEndedBySignal(state);
