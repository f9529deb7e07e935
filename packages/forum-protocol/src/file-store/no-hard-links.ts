/**
 * Error codes of `link(2)` that mean the file system has no hard links
 * (vfat, CIFS, some FUSE ones) rather than that something is wrong: the
 * store, the server's lock and identity key, and the client's downloads
 * all create a file whole by linking it into place, and fall back to a
 * rename or an exclusive create where these come back.
 */
export const NO_HARD_LINKS: ReadonlySet<unknown> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS', 'EMLINK']);

/** Whether `e` (anything a `link` call threw) says the file system has no hard links. */
export const isNoHardLinks = (e: unknown): boolean => typeof e === 'object' && e !== null && NO_HARD_LINKS.has((e as { code?: unknown }).code);
