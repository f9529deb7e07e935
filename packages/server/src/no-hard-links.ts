/**
 * How `link` fails on file systems without hard links (vfat, CIFS, some
 * FUSE ones): the data-directory lock and the identity key, both created by
 * linking a file written whole, fall back to creating the name exclusively.
 */

/** Error codes of `link` that mean the file system has no hard links. */
export const NO_HARD_LINKS: ReadonlySet<unknown> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS', 'EMLINK']);
