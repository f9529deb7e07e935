import { expect } from 'vitest';
import type { ForumStore } from 'forum-protocol';

const MiB = 1024 * 1024;

/** `store` with thread `t` made, holding `big` of `size` bytes (a whole number of MiB). */
export const withFile = async (store: ForumStore, size: number): Promise<ForumStore> => {
  expect(await store.createThread('t', 'yoda')()).toEqual({ _tag: 'Right', right: true });
  const begun = await store.beginUpload('t', 'big', 'yoda', undefined, size)();
  if (begun._tag === 'Left') throw new Error(begun.left.kind);
  const block = Buffer.alloc(MiB, 7);
  for (let at = 0; at < size; at += MiB) if (!begun.right.stream.write(block)) await new Promise((resolve) => begun.right.stream.once('drain', resolve));
  expect((await begun.right.commit())._tag).toBe('Right');
  return store;
};
