/**
 * A transfer the transfer port refused before it began, for want of room (`ERR too many transfers at once …`:
 * its host's connections, or all, taken, the connection refused or evicted for a newer one; `ERR server busy:
 * …`), is asked for again: a new UPD or DWN after a pause, a few times. The server sends these refusals only
 * before it has read any of the transfer, and the token may have been spent by then, hence a new request rather
 * than the same token. Safe for an upload whatever the refusal's origin (it is not authenticated): an upload is
 * stored whole or not at all, and a name only once in a thread (checked at the UPD and again at the commit), so a
 * try again never stores a file twice or in part; if a forged refusal hid one that landed, the new UPD is answered
 * `File already exists in Thread T`.
 */
import { isTryLaterRefusal, type TransferDirection } from 'forum-protocol';
import { pauseScale } from './login-pauses.js';
import type { TransferResult } from './transfer-connection.js';

/** The pauses before a transfer refused for want of room is asked for again (ms): 4 tries in 7 s. */
export const TRANSFER_RETRY_PAUSES_MS: readonly number[] = [1_000, 2_000, 4_000];

/**
 * For tests only: a factor in (0, 1] the pauses are multiplied by (see `LOGIN_PAUSE_SCALE_ENV`): it only shortens
 * this client's own waits between its own requests, each of which the server bounds on its side.
 */
export const TRANSFER_PAUSE_SCALE_ENV = 'FORUM_CLIENT_TEST_TRANSFER_PAUSE_SCALE';

/** The pauses (ms) before each try again, shortened by the test scale in `env` (whole ms, at least 1). */
export const transferRetryPauses = (env: Readonly<Record<string, string | undefined>>): readonly number[] => {
  const scale = pauseScale(env, TRANSFER_PAUSE_SCALE_ENV);
  return TRANSFER_RETRY_PAUSES_MS.map((ms) => Math.max(1, Math.round(ms * scale)));
};

/** The refusal of `result` that asks to try again later (`too many transfers at once …`, `server busy: …`), or `undefined`. */
export const tryLaterRefusal = (result: TransferResult): string | undefined =>
  !result.ok && !result.cancelled && result.clearRefusal !== undefined && isTryLaterRefusal(result.clearRefusal) ? result.clearRefusal : undefined;

/**
 * The stderr notice of a transfer asked for again in `waitMs` (`what`: `Upload of F`; `cmd`: UPD or DWN).
 * `lastByteSent`: an upload's try refused after it handed over its last byte, which may be stored if the refusal
 * was forged; it read `not begun` of it too, and nothing then said why the new UPD might be refused. The refusal is
 * said to be unauthenticated ({@link inClear}).
 */
export const transferRetryNotice = (what: string, refusal: string, waitMs: number, cmd: string, lastByteSent: boolean): string =>
  lastByteSent
    ? `${what} refused (${inClear(refusal)}) after its last byte was sent: trying again in ${waitMs / 1000} s with a new ${cmd}; if that try was stored, the new ${cmd} is refused as a name already in the thread`
    : `${what} not begun (${inClear(refusal)}): trying again in ${waitMs / 1000} s with a new ${cmd}`;

/**
 * A refusal in clear, as the retry's lines quote it: said to be unauthenticated, as every other refusal in clear is
 * (transfer-connection.ts). `server busy: ` may be followed by any words, and anyone on the path may write the line:
 * quoted bare, a forged `ERR server busy: your file was stored; log in at …` read as the server's own word in each
 * notice and in the line of the transfer given up (attack round 32, attack/round32-retry-forged.ts).
 */
export const inClear = (refusal: string): string => `unauthenticated, sent in clear: ${refusal}`;

/** How many tries were made in how long, for the line of a transfer given up. */
const triesText = (pausesMs: readonly number[]): string => `${pausesMs.length + 1} tries in ${pausesMs.reduce((a, b) => a + b, 0) / 1000} s`;

/**
 * The reason of a transfer still refused for want of room after the pauses `pausesMs`. An upload's `nothingSent`:
 * no try handed over its last byte, so nothing can have been stored, whoever wrote the refusals; otherwise the
 * line is one of an upload whose outcome is unknown (`uploadUnknownLine`). Each says the refusals were unauthenticated
 * (their words may be anyone's on the path, see {@link inClear}).
 */
export const givenUpReason = (direction: TransferDirection, refusal: string, pausesMs: readonly number[], nothingSent: boolean): string =>
  direction === 'download'
    ? `${refusal} (refused before it began in unauthenticated answers, ${triesText(pausesMs)})`
    : nothingSent
      ? `${refusal} (refused before it began in unauthenticated answers, ${triesText(pausesMs)}; nothing was stored)`
      : `${refusal} (${triesText(pausesMs)}, refused in unauthenticated answers, one after its last byte was sent)`;

/**
 * The line after the server refused a new UPD (`File already exists in Thread T`, say) when an earlier try had
 * handed over its last byte before its refusal in clear: that try may be the upload the thread now holds.
 */
export const earlierTryLine = (localName: string, thread: string): string =>
  `Upload of ${localName}: an earlier try, refused in clear after its last byte was sent, may be the one stored (RDT ${thread} shows who uploaded it)`;

/**
 * The reason of an upload that ended (`reason`: failed, or `cancelled`) after an earlier try of it was refused in
 * clear once its last byte was sent: that try may be the one stored, so the line is one of an upload whose outcome
 * is unknown (`uploadUnknownLine`), never `… failed` or `… cancelled` alone.
 */
export const afterEarlierTryReason = (reason: string): string => `${reason} (an earlier try was refused in clear after its last byte was sent)`;
