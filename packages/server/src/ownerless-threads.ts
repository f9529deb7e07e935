import type { ForumStore } from 'forum-protocol';
import { namedFew } from './named-few.js';

/**
 * A warning naming the threads whose creator has no account, or `undefined`. Any file whose first line is one
 * word reads as a thread of that word's user (`README` holding `bob`, a `todo` list), and a data directory
 * shared with another program, or the wrong one, served such files, and let whoever registered that name
 * first remove them with RMV, deleting the file (attack round 19). Such a thread may also be the forum's own
 * after credentials.txt was lost or cut: said, not refused, for the operator to judge.
 */
export const ownerlessThreadsWarning = async (store: ForumStore): Promise<string | undefined> => {
  const titles = await store.listThreads()();
  if (titles._tag === 'Left') return undefined;
  const ownerless: string[] = [];
  for (const title of titles.right) {
    const thread = await store.getThread(title)();
    if (thread._tag === 'Left' || thread.right._tag === 'None') continue;
    const creator = thread.right.value.creator;
    const account = await store.getAccount(creator)();
    if (account._tag === 'Right' && account.right._tag === 'None') ownerless.push(`${title} (${creator})`);
  }
  if (ownerless.length === 0) return undefined;
  return `thread files whose creator has no account (files of another program? whoever registers that name may remove them with RMV): ${namedFew(ownerless)}`;
};
