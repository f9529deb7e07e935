/**
 * Creating a file whole or not at all, also on file systems without hard
 * links (vfat, CIFS, some FUSE ones): the data-directory lock and the
 * identity key are both written to a file of their own and linked to their
 * name, and where `link` fails for want of hard links, the name is created
 * exclusively and written in place.
 */
import { isNoHardLinks, systemErrorCode } from 'forum-protocol';

/** The file operations {@link createWhole} uses (a seam: tests simulate file systems without hard links). */
export interface WholeFileFs {
  readonly link: (existing: string, path: string) => Promise<void>;
  /** Creates `path` holding `data`, failing with EEXIST if it exists (`wx`). */
  readonly writeFile: (path: string, data: string, options: { readonly flag: 'wx'; readonly mode: number }) => Promise<void>;
  readonly unlink: (path: string) => Promise<void>;
}

/** What {@link createWhole} did. */
export interface WholeFileOutcome {
  /** Whether this call created `path` (`false`: it existed). */
  readonly created: boolean;
  /**
   * Whether hard links worked: an existing `path` was then whole when seen. Without them it may be
   * one another process created and is still writing: a reader takes an incomplete one for that.
   */
  readonly linked: boolean;
}

/**
 * Creates `path` (exclusively) holding `content`; a write that fails once the file exists (a full disk:
 * ENOSPC after the open) deletes it. Left, an empty temporary stayed in the data directory for good (a
 * start on a full disk, attack round 19), and without hard links an empty lock or key under its own name.
 */
const writeNew = async (fs: WholeFileFs, path: string, content: string, mode: number): Promise<void> => {
  try {
    await fs.writeFile(path, content, { flag: 'wx', mode });
  } catch (e) {
    // Deleted only when the open had created it. EEXIST: the file is another's. Any failure of the open itself
    // created nothing either, and may come with a file there: EMFILE and ENFILE are found before the name is
    // looked up, so an existing lock or key (another server's, in place without hard links) would be deleted.
    if (systemErrorCode(e) !== 'EEXIST' && (e as { syscall?: unknown }).syscall !== 'open') await fs.unlink(path).catch(() => undefined);
    throw e;
  }
};

/**
 * Creates `path` holding `content` (mode `mode`), never replacing a file
 * there: `content` is written to `temp` (a name of the caller's, created
 * exclusively) and linked to `path`, which fails if the name exists, so no
 * reader ever sees it half written; `temp` is removed either way. Where the
 * file system has no hard links, `path` is created exclusively and written
 * in place (`linked: false`).
 */
export const createWhole = async (fs: WholeFileFs, path: string, temp: string, content: string, mode: number): Promise<WholeFileOutcome> => {
  await writeNew(fs, temp, content, mode);
  try {
    await fs.link(temp, path);
    return { created: true, linked: true };
  } catch (e) {
    if (systemErrorCode(e) === 'EEXIST') return { created: false, linked: true };
    if (!isNoHardLinks(e)) throw e;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
  try {
    await writeNew(fs, path, content, mode);
    return { created: true, linked: false };
  } catch (e) {
    if (systemErrorCode(e) === 'EEXIST') return { created: false, linked: false };
    throw e;
  }
};
