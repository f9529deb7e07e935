/**
 * A file store's `owned` hook (asked just before each thread write) that can hold one write's question:
 * the write is then under way, neither done nor failed, until the test answers it. Shows what other
 * requests may do while a write is pending, and what a write that then fails leaves behind.
 */
export interface HeldWrite {
  /** The hook to pass as `openFileStore`'s `owned` option. */
  readonly owned: () => Promise<boolean>;
  /** Holds the next write's question; resolves once it was asked (the write is under way). */
  arm(): Promise<void>;
  /** Answers the held question: `false` fails the held write, as a store that lost the directory. */
  answer(ours: boolean): void;
}

/** A {@link HeldWrite}, holding nothing until armed. */
export function heldWrite(): HeldWrite {
  let armed: (() => void) | undefined;
  let held: ((ours: boolean) => void) | undefined;
  return {
    owned: () => {
      const asked = armed;
      if (asked === undefined) return Promise.resolve(true);
      armed = undefined;
      asked();
      return new Promise<boolean>((resolve) => (held = resolve));
    },
    arm: () => new Promise<void>((resolve) => (armed = resolve)),
    answer: (ours) => held?.(ours),
  };
}
