import { lineTextProblem } from '../store/thread.js';

/** The file the data directory keeps accounts in (the same as names.ts's `CREDENTIALS_FILE`). */
const ACCOUNTS_FILE = 'credentials.txt';

// Linux, macOS and Windows all refuse longer names (in bytes of UTF-8 on Linux).
const MAX_FILE_NAME_BYTES = 255;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `name` cannot be a file name in the data directory that reads back as
 * itself and only itself, or `undefined`. This is the store's own rule, used
 * both when it creates a name and when it reads the directory back, so what
 * it accepted is found again after a restart whatever the request layer's
 * (stricter) name rules are: non-empty, well-formed Unicode, no `/`, no
 * control characters, not `.`/`..` or any dot file (the store's own journal
 * and temporary files are dot files), at most 255 UTF-8 bytes, and not the
 * accounts file in any letter case.
 */
export const storedNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return 'the name is empty';
  const text = lineTextProblem('the name', name);
  if (text !== undefined) return text;
  if (CONTROL.test(name)) return 'the name contains a control character';
  if (name.includes('/')) return "the name contains '/'";
  if (name.startsWith('.')) return "the name starts with '.'";
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `the name is longer than ${MAX_FILE_NAME_BYTES} bytes`;
  if (name.toLowerCase() === ACCOUNTS_FILE) return `the name is ${ACCOUNTS_FILE}`;
  return undefined;
};
