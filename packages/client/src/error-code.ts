/**
 * The `code` of a failed system call's error (`ENOENT`, `EACCES`, `EEXIST`, …), or `undefined` when `e`
 * carries none. One helper for the client: download-place.ts had its own, which read `.code` of whatever was
 * thrown (a `null` rejection threw a TypeError from the error path) and printed a missing code as `undefined`.
 */
export const errorCode = (e: unknown): string | undefined => {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};
