/** True if `pid` is a live process, ours or another user's (EPERM: it exists, we may not signal it). */
export const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e?.code === 'EPERM';
  }
};
