import type { RequestCommand } from 'forum-protocol';
import type { Delivery } from './server-link.js';

/** The commands that change the forum (UPD's file travels on its own connection, with its own outcome line). */
const WRITES: ReadonlySet<RequestCommand> = new Set<RequestCommand>(['CRT', 'MSG', 'EDT', 'DLT', 'RMV']);

/**
 * What a user is told of a command that changes the forum and got no reply (the reply timed out, or the connection
 * ended while it waited): its outcome is unknown, whether or not the server's transport acknowledged it. A reply
 * lost on the way back leaves the change made (attack round 21: an MSG stored while its client, its replies cut
 * for 15 s, said only `Server unreachable: no reply within 8 seconds`, as if nothing had happened): a user who
 * sends it again posts it twice. One that never left (the connection had ended before it was sent, or ended while
 * it was still queued in rudpx, no byte of it sent) is said not sent, and that sending it again (the session is
 * over: in a new one) cannot make it twice: it was said to have maybe reached the server. `undefined` for a
 * command that changes nothing.
 */
export const unansweredWriteText = (cmd: RequestCommand, delivery: Delivery): string | undefined => {
  if (!WRITES.has(cmd)) return undefined;
  switch (delivery) {
    case 'received':
      return `the server had received the ${cmd} (it acknowledged it) and may have carried it out: check before sending it again`;
    case 'unknown':
      return `the ${cmd} may or may not have reached the server: check before sending it again`;
    case 'notSent':
      return `the ${cmd} was not sent (the connection had ended before it could leave): the server did not carry it out, and it can be sent again in a new session`;
  }
};
