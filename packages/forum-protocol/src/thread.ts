/** One line of a thread after the creator line. */
export type ThreadEntry =
  | { readonly kind: 'message'; readonly author: string; readonly text: string }
  | { readonly kind: 'upload'; readonly uploader: string; readonly filename: string }
  /** A line of a hand-written file that is neither; kept verbatim so a rewrite never loses it. */
  | { readonly kind: 'other'; readonly line: string };

/** A thread: its title (the file name), its creator, and its entries in order. */
export interface Thread {
  readonly title: string;
  readonly creator: string;
  readonly entries: readonly ThreadEntry[];
}

/** The lines RDT shows: messages numbered from 1 in order (`N user: text`), upload lines not numbered. */
export const threadLines = (thread: Thread): readonly string[] => {
  let n = 0;
  return thread.entries.map((e) => {
    switch (e.kind) {
      case 'message':
        n += 1;
        return `${n} ${e.author}: ${e.text}`;
      case 'upload':
        return `${e.uploader} uploaded ${e.filename}`;
      case 'other':
        return e.line;
    }
  });
};

/** The exact bytes of a thread file: the creator line, then {@link threadLines}, each ending in `\n`. */
export const formatThreadFile = (thread: Thread): string => [thread.creator, ...threadLines(thread)].map((l) => `${l}\n`).join('');

const MESSAGE_LINE = /^\s*\d+ (\S+?): ?(.*)$/;
const UPLOAD_LINE = /^(\S+) uploaded (\S+)$/;

/**
 * Parses a thread file, tolerantly: CRLF or LF, with or without a final
 * newline; message numbers are ignored (messages are renumbered by position);
 * unrecognised lines are kept as `other`. Returns `undefined` when the first
 * line is not a plausible user name (one word), i.e. the file is not a thread.
 */
export const parseThreadFile = (title: string, text: string): Thread | undefined => {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const creator = lines[0]?.trim();
  if (creator === undefined || creator === '' || /\s/.test(creator)) return undefined;
  const entries = lines.slice(1).flatMap((line): ThreadEntry[] => {
    if (line.trim() === '') return [];
    const m = MESSAGE_LINE.exec(line);
    if (m !== null) return [{ kind: 'message', author: m[1] ?? '', text: m[2] ?? '' }];
    const u = UPLOAD_LINE.exec(line);
    if (u !== null) return [{ kind: 'upload', uploader: u[1] ?? '', filename: u[2] ?? '' }];
    return [{ kind: 'other', line }];
  });
  return { title, creator, entries };
};

/** Index into `entries` of message number `n` (1-based), or -1. */
export const messageIndex = (thread: Thread, n: number): number => {
  let seen = 0;
  for (let i = 0; i < thread.entries.length; i++) {
    if (thread.entries[i]?.kind === 'message') {
      seen += 1;
      if (seen === n) return i;
    }
  }
  return -1;
};

/** True when `filename` has an upload line in the thread. */
export const hasUpload = (thread: Thread, filename: string): boolean =>
  thread.entries.some((e) => e.kind === 'upload' && e.filename === filename);

/** The file name an upload is stored under in the data directory: `TITLE-FILENAME`. */
export const uploadFileName = (title: string, filename: string): string => `${title}-${filename}`;
