/** Waiting for a forked child's IPC message of one kind, for the attack scripts that run each end in a process of its own. */
import type { ChildProcess } from 'node:child_process';

/** The next message of `kind` (`{ kind }`) from `child`; others pass by. */
export const nextMessage = <T>(child: ChildProcess, kind: string): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: { kind: string }): void => {
      if (m.kind !== kind) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
  });
