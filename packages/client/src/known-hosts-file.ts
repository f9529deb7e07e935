/**
 * The client's known-hosts file on disk (per user; `--known-hosts FILE` to
 * choose another), and the SSH-like decision on a server's identity key:
 * first contact prints the fingerprint and records it; a changed key refuses.
 */
import { appendKnownHost, changedKeyMessage, checkHostKey, firstContactMessage, parseKnownHosts, type KnownHosts } from 'forum-protocol';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fingerprint, nodeCryptoProvider } from 'rudpx';

/** The default file: `~/.forum-client/known_hosts`. */
export const defaultKnownHostsPath = (): string => join(homedir(), '.forum-client', 'known_hosts');

/** Reads the file; a missing file is an empty one. Rejects only on a real read error (permissions…). */
export const loadKnownHosts = async (path: string): Promise<{ readonly text: string; readonly hosts: KnownHosts }> => {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  return { text, hosts: parseKnownHosts(text) };
};

/** The decision on a server's key: go on (after printing `lines`), or refuse (printing `lines`). */
export type ServerTrust = { readonly ok: boolean; readonly lines: readonly string[] };

/**
 * Decides whether to trust `offered`, the key the server at `id` proved it
 * holds, and records it on first contact (directory 0700, file 0600).
 */
export const trustServerKey = async (path: string, id: string, offered: Uint8Array): Promise<ServerTrust> => {
  const { text, hosts } = await loadKnownHosts(path);
  const fp = (key: Uint8Array): string => fingerprint(nodeCryptoProvider, key);
  // Said every time: a damaged line may be this server's pin, which then reads as a first contact.
  const damaged = hosts.problems.map((p) => `Warning: ${path} ${p}; the line is skipped`);
  const check = checkHostKey(hosts, id, offered);
  if (check.kind === 'trusted') return { ok: true, lines: damaged };
  if (check.kind === 'changed') return { ok: false, lines: [...damaged, ...changedKeyMessage(id, fp(check.known), fp(offered), path)] };
  const lines = [...damaged, ...firstContactMessage(id, fp(offered), path)];
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Appended, not rewritten from the text read: bytes that are not UTF-8 stay as they were (a rewrite
    // turned them into U+FFFD), and a line another client added since is not lost.
    await appendFile(path, appendKnownHost(text, id, offered).slice(text.length), { mode: 0o600 });
  } catch (e) {
    lines.push(`Warning: could not record it in ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ok: true, lines };
};
