/** One migration: the statements that bring the schema from the version before it to its own, run in order in one transaction. */
export type Migration = readonly string[];
