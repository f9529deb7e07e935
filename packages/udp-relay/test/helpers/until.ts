/**
 * Waits for a condition that real sockets make true (counters move as
 * datagrams arrive), polling on the event loop; fails after `ms`.
 */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
