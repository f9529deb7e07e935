/**
 * The time a test-only environment variable (`FORUM_SERVER_TEST_*_MS`) sets in `env`, ms: a whole number from `min`
 * to `max`, else `max`, the product's own value. A seam can only shorten a wait, never lengthen it or turn it off.
 */
export const testSeamMs = (env: Readonly<Record<string, string | undefined>>, name: string, min: number, max: number): number => {
  const text = env[name]?.trim() ?? '';
  const ms = /^\d{1,6}$/u.test(text) ? Number(text) : Number.NaN;
  return ms >= min && ms <= max ? ms : max;
};
