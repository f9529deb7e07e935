/**
 * Text from the other end made safe for a terminal. Everything forum-client
 * prints of a reply (its lines, the completion line, a transfer's refusal, a
 * notice, the connection's close reason) is the server's text, and through
 * it other users' messages: an honest server refuses control characters in
 * what users post, but a hostile or compromised server, an older data
 * directory or a row written by another tool is not bound by that. The
 * server's log quotes clients (a malformed request's parse error quotes its
 * bytes). Printed raw, ESC sequences would write the clipboard (OSC 52), set
 * the window title, clear the screen and its scrollback, or with `\r` or
 * ESC[1A overwrite a line with a forged one.
 */

// C0 controls (TAB, CR and LF included: a printed line is one line), DEL, C1 controls (a terminal
// may take U+009B as CSI), the line and paragraph separators, and every Bidi_Control character: the
// explicit embeddings, overrides and isolates, which reorder the rest of the line, and the implicit
// marks U+200E, U+200F and U+061C, which a terminal that lays out bidi text (VTE, Konsole, mlterm)
// lets move the punctuation and digits around them (SECURITY.md refuses all of them in names; a
// message may carry them, and the marks reached the terminal raw: attack round 11, attack/co-user-text.ts).
// Zero-width joiners and tag characters stay: emoji sequences and flags are made of them.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const shown = (c: string): string => `<U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}>`;

/** `text` with every character that could drive the terminal shown as `<U+XXXX>` instead (ESC as `<U+001B>`). */
export const terminalText = (text: string): string => text.replace(UNSAFE, shown);
