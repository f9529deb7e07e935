/** Points TMPDIR at a fresh directory on /dev/shm unless TMPDIR is set or there is too little room (see test-temp-dir.mjs). */
export declare const setup: () => Promise<void>;
/** Removes the run's directory and what the tests left in it. */
export declare const teardown: () => Promise<void>;
