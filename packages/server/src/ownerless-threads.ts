import { validateCredential, type ForumStore } from 'forum-protocol';
import { namedFew } from './named-few.js';

/**
 * The warnings naming the threads whose creator has no account (none, one or two). Any file whose first line
 * is one word reads as a thread of that word's user (`README` holding `bob`, a `todo` list), and a data
 * directory shared with another program, or the wrong one, served such files, and let whoever registered that
 * name first remove them with RMV, deleting the file (attack round 19). Such a thread may also be the forum's
 * own after credentials.txt was lost or cut: said, not refused, for the operator to judge. A creator whose name
 * cannot be registered (one the login refuses, `TODO:`; held: the same name as an account spelled otherwise,
 * `TODO` beside `todo`, or a malformed credentials line's) is said apart: RMV asks for the creator's exact name, so no one can remove
 * those (the warning said whoever registered the name could).
 */
export const ownerlessThreadsWarnings = async (store: ForumStore): Promise<readonly string[]> => {
  const titles = await store.listThreads()();
  if (titles._tag === 'Left') return [];
  const free: string[] = [];
  const held: string[] = [];
  for (const title of titles.right) {
    const thread = await store.getThread(title)();
    if (thread._tag === 'Left' || thread.right._tag === 'None') continue;
    const creator = thread.right.value.creator;
    const account = await store.getAccount(creator)();
    if (account._tag === 'Left' || account.right._tag === 'Some') continue;
    // A name the login refuses (`TODO:`, look-alike letters of two scripts): no one can register it either.
    const invalid = validateCredential('username', creator);
    const similar = store.similarAccount?.(creator);
    const damaged = store.damagedAccount?.(creator);
    if (invalid._tag === 'Left') held.push(`${title} (${creator}, a name the login refuses: ${invalid.left.replace(/^Invalid username: /, '')})`);
    else if (similar !== undefined) held.push(`${title} (${creator}: the name of account ${similar})`);
    else if (damaged !== undefined) held.push(`${title} (${creator}: held by credentials.txt line ${damaged}, malformed)`);
    else free.push(`${title} (${creator})`);
  }
  return [
    ...(free.length === 0 ? [] : [`thread files whose creator has no account (files of another program? whoever registers that name may remove them with RMV): ${namedFew(free)}`]),
    ...(held.length === 0
      ? []
      : [
          `thread files whose creator has no account, under a name no one can register (files of another program? no one can remove them with RMV, ` +
            `which takes the creator's exact name; a malformed line's account can once it is mended): ${namedFew(held)}`,
        ]),
  ];
};
