import type { ClientState } from './client-state.js';
import { err } from './client-output.js';
import { EXIT } from './exit-status.js';
import type { SessionExit } from './session-exit.js';

/**
 * Ends the session whose connection is gone: `Server unreachable: REASON` (status 1), unless a script's login was
 * waiting to be tried again and the server closed the connection (`closed`): it refused the login and hung up (a
 * server over its memory budget answers `Server busy: …, try again later` and closes), so the login is not
 * completed, with that refusal's status. Before, the client announced the retry, then said the server was unreachable (1).
 */
export const connectionGone = (state: ClientState, end: SessionExit, reason: string, closed: boolean): void => {
  const retry = state.loginRetry;
  if (retry === undefined || !closed) end.fatal(EXIT.unreachable, () => err(`Server unreachable: ${reason}`));
  else end.fatal(retry.status, () => err(`Login not completed: ${retry.refusal} (the server closed the connection: ${reason}); the commands were not run`));
};
