/**
 * The credit a connection grants its peer, as the application and the
 * endpoint's receive budget move it: raised by the application
 * (`raiseReceiveWindow`), topped up as the budget has room again
 * (`ReceivePool.serve`), and grown to answer a peer's BLOCKED. The
 * arithmetic is flow-control.ts's; this is when the connection asks for it
 * and whom it tells (the budget's waiting list, the endpoint's wake-up).
 */
import { checkReceiveWindow } from '../config.js';
import type { Connection } from '../connection.js';
import { windowWithin } from '../credit.js';

/** `Connection.raiseReceiveWindow`: grants `bytes` at once, growing the window to it if smaller. */
export function raiseWindow(c: Connection, bytes: number): void {
  checkReceiveWindow(bytes);
  const window = windowWithin(bytes, c.host.receivePool);
  if (c.state === 'closed' || !c.flow.raiseReceiveWindow(window)) return;
  c.raisedAtPn = c.nextPn;
  c.reassembly.raiseWindow(window);
  // Granted in part: the rest as the endpoint's budget has room again (a message a BLOCKED waits for included).
  if (c.flow.credit < c.flow.wanted) c.host.receivePool?.wait(c);
  c.host.wake(c);
}

/** The endpoint's receive budget has credit again (`ReceivePool.serve`): grants what it allows; whether more is still wanted. */
export function topUpCredit(c: Connection): boolean {
  if (c.state === 'closed' || c.state === 'draining') return false;
  // A BLOCKED left unanswered for want of room in the party's share is asked again as credit returns.
  if (c.flow.shareWaiting) answerBlocked(c);
  const short = c.flow.topUp();
  if (c.flow.due) c.host.wake(c);
  return short || (c.flow.shareWaiting && c.flow.peerWaiting);
}

/**
 * The peer waits for a limit past ours (BLOCKED: a message larger than the grant): the grant grows to
 * fit it (flow-control.ts) if the application keeps up: not paused, no whole message waiting to be
 * read. An application that does not read never grows it; one that reads is asked again at each read
 * until the peer is answered.
 */
export function answerBlocked(c: Connection): void {
  const flow = c.flow;
  if (!flow.peerWaiting || c.isPaused || c.reassembly.hasNext()) return;
  if (c.state !== 'established' && c.state !== 'closing') return;
  const answered = flow.answerBlocked();
  // The answer is repeated until a packet sent from now on that carried it is acknowledged (`onMaxDataAcked`).
  if (answered) c.raisedAtPn = c.nextPn;
  if (!answered && flow.credit >= flow.wanted && !flow.shareWaiting) return;
  if (flow.credit < flow.wanted || flow.shareWaiting) c.host.receivePool?.wait(c);
  c.host.wake(c);
}
