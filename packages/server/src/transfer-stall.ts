import type net from 'node:net';

/**
 * Time the server holds a transfer back (it waits for its store or its disk) from {@link ServerHold.hold} to
 * the matching {@link ServerHold.release}: that time is not the client's. Holds nest.
 */
export interface ServerHold {
  hold(): void;
  /** Ends one {@link ServerHold.hold}. */
  release(): void;
}

/** A running {@link watchStall}. */
export interface StallLimit extends ServerHold {
  /** No more judging (a download's tail, which has its own deadline). */
  stop(): void;
}

/**
 * The stall limit of transfer connection `socket`: `cut` once the client has been silent `stallMs` of its own
 * time. Node's socket inactivity timer (a read or a completed write restarts it), off while the server holds the
 * transfer back: the sender's TCP waits while the server reads nothing, and a store write pending 30 s ended an
 * honest upload. Restarted, not resumed, when the hold ends: a hold begins just after the client's own activity
 * (its header or an upload's chunk just read, a download's write just taken), so what the restart forgives of its
 * silence is the server's own moments between, and a client silent after a hold is still cut at `stallMs` of its
 * own silence.
 */
export const watchStall = (socket: net.Socket, stallMs: number, cut: () => void): StallLimit => {
  socket.setTimeout(stallMs, cut);
  let holds = 0;
  let stopped = false;
  return {
    hold: () => {
      if (holds++ === 0 && !stopped) socket.setTimeout(0);
    },
    release: () => {
      if (holds === 0) return;
      if (--holds > 0 || stopped || socket.destroyed) return;
      socket.setTimeout(stallMs);
    },
    stop: () => {
      stopped = true;
      socket.setTimeout(0);
    },
  };
};

/** One hold of both `a` and `b` (the pace and the stall limit). */
export const bothHeld = (a: ServerHold, b: ServerHold): ServerHold => ({
  hold: () => {
    a.hold();
    b.hold();
  },
  release: () => {
    a.release();
    b.release();
  },
});

/** `work`'s value, `hold` held while the server waits for it. */
export const whileHeld = async <T>(hold: ServerHold, work: () => Promise<T>): Promise<T> => {
  hold.hold();
  try {
    return await work();
  } finally {
    hold.release();
  }
};
