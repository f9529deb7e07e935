/**
 * The `code` of a failed system call's error (`ENOENT`, `EACCES`, `EEXIST`, …), or `undefined` when `e`
 * carries none (a rejection with `null`, a plain value). The one reading of it for the store, the server and
 * the client: each had its own, and one read `.code` of whatever was thrown (a `null` rejection threw a
 * TypeError from the error path).
 */
export const systemErrorCode = (e: unknown): string | undefined => {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};
