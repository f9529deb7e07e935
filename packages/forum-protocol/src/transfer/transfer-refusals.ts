/**
 * The transfer port's refusals of a connection before it has read any of its transfer (sent in clear, as an
 * `ERR reason` line, before there are keys): the server and forum-client share their words, so that the client
 * knows a refusal that asks it to try again later from any other.
 */

/** A connection refused, or evicted for a newer one, when its host's transfer connections (or all) are taken. */
export const TOO_MANY_TRANSFERS_TEXT = 'too many transfers at once (from your address, or in all): try again later';

/** A connection refused on arrival while the server is short of room (`why`: memory, say). */
export const serverBusyTransferText = (why: string): string => `server busy: ${why}`;

/**
 * Whether `refusal` (a clear refusal's reason, without `ERR `) is one of the two above: sent only before the
 * server has read any of the transfer (its token not redeemed, or redeemed and the transfer not begun), so
 * that a new UPD or DWN may go through once its neighbours are done. It is not authenticated: anyone on the
 * path may send it, at any moment before the server's first record.
 */
export const isTryLaterRefusal = (refusal: string): boolean => refusal === TOO_MANY_TRANSFERS_TEXT || refusal.startsWith(serverBusyTransferText(''));
