/** At most this many items a start-up warning names; the rest are counted. */
const NAMED = 10;

/** `items` for a warning: the first ten, comma-separated, then how many more (a data directory may hold thousands). */
export const namedFew = (items: readonly string[]): string =>
  `${items.slice(0, NAMED).join(', ')}${items.length > NAMED ? ` and ${items.length - NAMED} more` : ''}`;
