/**
 * forum-client's exit statuses: one table that the code returns and `--help`
 * prints, so the two cannot drift apart (the help once said 4 for a changed
 * server key, which exits 5). `internal` is sysexits' EX_SOFTWARE: a crash
 * of the client itself, not to be read as an unreachable server (1).
 */
export const EXIT = { ok: 0, unreachable: 1, usage: 2, idleTimeout: 3, serverShutdown: 4, hostKey: 5, loginFault: 6, loginRefused: 7, internal: 70, hangUp: 129, interrupted: 130, terminated: 143 } as const;
