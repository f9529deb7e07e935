/**
 * Waits for a condition that real sockets make true (counters move as
 * datagrams arrive), polling on the event loop; fails after `ms` (20 s by default: a deadline only ends a
 * wait that failed, and a busy CI machine, at load 20, stalls processes for seconds).
 */
export async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
