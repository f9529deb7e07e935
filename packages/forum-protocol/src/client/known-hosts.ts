/**
 * The client's known-hosts file, as SSH keeps one: which identity key each
 * server (host and port) presented the first time. Pure: parse, check,
 * append, and the messages to print. Line format:
 *
 *   host:port x25519 <64 hex digits of the public key>
 *
 * (`[addr]:port` for IPv6 addresses); `#` comments and blank lines are kept.
 */

/** The parsed file: the pinned key per host id, and complaints about lines that could not be read (skipped). */
export interface KnownHosts {
  readonly keys: ReadonlyMap<string, Uint8Array>;
  /** The first {@link MAX_LISTED_PROBLEMS} complaints. */
  readonly problems: readonly string[];
  /** Complaints past those, counted only: a file of a million damaged lines made a million strings. */
  readonly unlisted: number;
}

/** Complaints {@link parseKnownHosts} words; the rest it counts. */
export const MAX_LISTED_PROBLEMS = 10;

/** The outcome of checking a server's key against the file. */
export type HostKeyCheck =
  | { readonly kind: 'trusted' }
  | { readonly kind: 'first-contact' }
  | { readonly kind: 'changed'; readonly known: Uint8Array };

/** The id of a server in the file: `host:port`, or `[host]:port` when the host contains `:` (IPv6). */
export const hostId = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

const LINE = /^(\S+) x25519 ([0-9a-f]{64})$/;
const hexToBytes = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const bytesToHex = (a: Uint8Array): string => Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Parses the file's text. Never throws; a line it cannot read is reported and ignored. */
export const parseKnownHosts = (text: string): KnownHosts => {
  const keys = new Map<string, Uint8Array>();
  const listed: string[] = [];
  let unlisted = 0;
  const problems = {
    push: (p: string): void => {
      if (listed.length < MAX_LISTED_PROBLEMS) listed.push(p);
      else unlisted++;
    },
  };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (m === null) return void problems.push(`line ${i + 1}: not "host:port x25519 <64 hex digits>"`);
    const [, id = '', hex = ''] = m;
    const key = hexToBytes(hex);
    const first = keys.get(id);
    // The same line twice (two clients' first contacts at once, before the file was locked) agrees with itself.
    if (first !== undefined && sameBytes(first, key)) return;
    if (first !== undefined) return void problems.push(`line ${i + 1}: ${id} is listed twice with different keys; the first line counts`);
    keys.set(id, key);
  });
  return { keys, problems: listed, unlisted };
};

/** Checks `offered` (the key the server proved it holds) against the pinned key of `id`. */
export const checkHostKey = (known: KnownHosts, id: string, offered: Uint8Array): HostKeyCheck => {
  const pinned = known.keys.get(id);
  if (pinned === undefined) return { kind: 'first-contact' };
  return sameBytes(pinned, offered) ? { kind: 'trusted' } : { kind: 'changed', known: pinned };
};

/** The file's text with a line for `id` added (a newline is added first if the text lacks one). */
export const appendKnownHost = (text: string, id: string, key: Uint8Array): string =>
  `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${id} x25519 ${bytesToHex(key)}\n`;

/** What the client prints when it trusts a server for the first time. */
export const firstContactMessage = (id: string, fingerprint: string, file: string): readonly string[] => [
  `The server at ${id} is not in ${file} yet.`,
  `Its identity key fingerprint is ${fingerprint}.`,
  `Trusting it from now on (check it against "forum-server --show-fingerprint" on the server if in doubt).`,
];

/** What the client prints when a server presents another key than the pinned one; it then refuses to go on. */
export const changedKeyMessage = (id: string, knownFingerprint: string, offeredFingerprint: string, file: string): readonly string[] => [
  `WARNING: the server at ${id} presented a different identity key than the one recorded in ${file}.`,
  `  recorded: ${knownFingerprint}`,
  `  offered:  ${offeredFingerprint}`,
  'Either the server got a new key (its data directory was replaced or its key file deleted),',
  'or someone between you and the server is impersonating it. Nothing was sent; the connection is closed.',
  `If the server's operator confirms the new fingerprint (forum-server --show-fingerprint), delete the line for ${id} from ${file} and connect again.`,
];
