/**
 * Directory entry names read as bytes (`readdir(dir, { encoding: 'buffer' })`): read as strings, a name that is
 * not UTF-8 (a Latin-1 `café` copied in) came back with U+FFFD in place of its bytes, a name no file has.
 */

// `ignoreBOM`: by default a TextDecoder drops a leading U+FEFF, and a file `\ufeffnotes` was read back as `notes`,
// another file's name or none (its stat failed the open with ENOENT).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `bytes` as UTF-8, every code point kept (a leading U+FEFF too), or `undefined` if they are not UTF-8. */
export const utf8Name = (bytes: Uint8Array): string | undefined => {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
};

/** A file name's bytes for a log line: printable ASCII as it is, every other byte (and `\`) as `\xHH`. */
export const escapedName = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
