/** Parameters of the forum scenario: scripted sessions, one request in flight per session. */
export interface ForumScenario {
  /** Concurrent client sessions (one connection each). */
  readonly sessions: number;
  /** MSG commands per session. */
  readonly messages: number;
  /** Give up after this much network time. */
  readonly timeLimitMs: number;
  /** Only the first this many commands of each session's script (all when unset). */
  readonly commands?: number;
}

/** Four sessions of login, CRT, MSG × 20, RDT, UPD. */
export const FORUM: ForumScenario = { sessions: 4, messages: 20, timeLimitMs: 300_000 };

/** The `--quick` forum: two sessions with five messages each. */
export const FORUM_QUICK: ForumScenario = { sessions: 2, messages: 5, timeLimitMs: 120_000 };

/**
 * First reply after connect: 100 sessions each connect and send their first
 * request (the login name) at once; its round trip includes the handshake.
 */
export const FORUM_FIRST: ForumScenario = { sessions: 100, messages: 0, timeLimitMs: 120_000, commands: 1 };

/** The `--quick` first-reply scenario: 30 sessions. */
export const FORUM_FIRST_QUICK: ForumScenario = { ...FORUM_FIRST, sessions: 30 };

/** Loss per direction of the first-reply scenario. */
export const FORUM_FIRST_LOSS = 0.2;

/** The requests one session sends, in order (`cmd`, `args`); every one should succeed. */
export function forumScript(user: string, password: string, messages: number): readonly { readonly cmd: string; readonly args: readonly string[] }[] {
  const thread = `thread-${user}`;
  return [
    { cmd: 'username', args: [user] },
    { cmd: 'password', args: [password] },
    { cmd: 'CRT', args: [thread] },
    ...Array.from({ length: messages }, (_, i) => ({ cmd: 'MSG', args: [thread, `message ${i} from ${user} over a lossy link`] })),
    { cmd: 'RDT', args: [thread] },
    { cmd: 'UPD', args: [thread, 'notes.txt'] },
  ];
}
