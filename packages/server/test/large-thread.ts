/**
 * The text of a thread file of `messages` messages of 4,000 characters each
 * by `creator` (about 4 KB a message: 256 make 1 MiB, 512 make 2 MiB), for
 * the tests and attack scripts whose replies must be large.
 */
export const largeThreadFile = (creator: string, messages: number): string => {
  const text = 'lorem ipsum '.repeat(334).slice(0, 4000);
  return `${creator}\n${Array.from({ length: messages }, (_, i) => `${i + 1} ${creator}: ${text}\n`).join('')}`;
};
