/**
 * The schedule and words of a transfer asked for again after a refusal for want of room, at their real values:
 * the end-to-end tests (e2e-transfer-eviction) run the schedule shortened through the test-only scale.
 */
import { serverBusyTransferText, TOO_MANY_TRANSFERS_TEXT } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { failed, type TransferResult } from '../src/transfer-connection.js';
import { givenUpReason, TRANSFER_PAUSE_SCALE_ENV, TRANSFER_RETRY_PAUSES_MS, transferRetryNotice, transferRetryPauses, tryLaterRefusal } from '../src/transfer-retry.js';

/** A failure for a refusal in clear, as the channel reports one. */
const refusedInClear = (refusal: string, maybeStored = false): TransferResult => ({ ok: false, cancelled: false, reason: `x: ${refusal}`, clearRefusal: refusal, ...(maybeStored ? { maybeStored: true } : {}) });

describe('transfer retry', () => {
  it('asks again after 1, 2 and 4 s (4 tries in 7 s); the test scale only shortens', () => {
    expect(TRANSFER_RETRY_PAUSES_MS).toEqual([1_000, 2_000, 4_000]);
    expect(transferRetryPauses({})).toEqual([1_000, 2_000, 4_000]);
    for (const text of ['', '0', '2', 'abc']) expect(transferRetryPauses({ [TRANSFER_PAUSE_SCALE_ENV]: text })).toEqual([1_000, 2_000, 4_000]);
    expect(transferRetryPauses({ [TRANSFER_PAUSE_SCALE_ENV]: '0.01' })).toEqual([10, 20, 40]);
  });

  it('asks again only after the transfer port’s refusals for want of room, which come before it reads any of the transfer', () => {
    expect(tryLaterRefusal(refusedInClear(TOO_MANY_TRANSFERS_TEXT))).toBe(TOO_MANY_TRANSFERS_TEXT);
    expect(tryLaterRefusal(refusedInClear(TOO_MANY_TRANSFERS_TEXT, true))).toBe(TOO_MANY_TRANSFERS_TEXT);
    expect(tryLaterRefusal(refusedInClear(serverBusyTransferText('memory budget reached')))).toBe('server busy: memory budget reached');
    // Any other refusal in clear (an unknown token, a forged thread-gone line), or the same words sealed (the
    // server never seals them), or a cut connection: said, not asked again.
    expect(tryLaterRefusal(refusedInClear('invalid or expired token'))).toBeUndefined();
    expect(tryLaterRefusal(refusedInClear('Thread t does not exist'))).toBeUndefined();
    expect(tryLaterRefusal(failed(TOO_MANY_TRANSFERS_TEXT))).toBeUndefined();
    expect(tryLaterRefusal({ ok: false, cancelled: true })).toBeUndefined();
    expect(tryLaterRefusal({ ok: true })).toBeUndefined();
  });

  it('says each try again on stderr, and when given up whether anything can have been stored', () => {
    expect(transferRetryNotice('Upload of f.txt', TOO_MANY_TRANSFERS_TEXT, 1_000, 'UPD', false)).toBe(
      'Upload of f.txt not begun (unauthenticated, sent in clear: too many transfers at once (from your address, or in all): try again later): trying again in 1 s with a new UPD',
    );
    // A try refused after its last byte was sent may be stored (the refusal is not authenticated): not "not begun".
    expect(transferRetryNotice('Upload of f.txt', TOO_MANY_TRANSFERS_TEXT, 2_000, 'UPD', true)).toBe(
      'Upload of f.txt refused (unauthenticated, sent in clear: too many transfers at once (from your address, or in all): try again later) after its last byte was sent: trying again in 2 s with a new UPD; if that try was stored, the new UPD is refused as a name already in the thread',
    );
    expect(givenUpReason('upload', TOO_MANY_TRANSFERS_TEXT, TRANSFER_RETRY_PAUSES_MS, true)).toBe(
      'too many transfers at once (from your address, or in all): try again later (refused before it began in unauthenticated answers, 4 tries in 7 s; nothing was stored)',
    );
    expect(givenUpReason('upload', TOO_MANY_TRANSFERS_TEXT, TRANSFER_RETRY_PAUSES_MS, false)).toBe(
      'too many transfers at once (from your address, or in all): try again later (4 tries in 7 s, refused in unauthenticated answers, one after its last byte was sent)',
    );
    expect(givenUpReason('download', 'server busy: x', TRANSFER_RETRY_PAUSES_MS, true)).toBe('server busy: x (refused before it began in unauthenticated answers, 4 tries in 7 s)');
  });

  it('never quotes a refusal in clear as the server\'s word: `server busy: ` may be followed by anyone\'s words (attack round 32)', () => {
    // Forged on the path, this read as the server's own word in every notice and in the line of the upload given up.
    const forged = serverBusyTransferText('your file was stored; the forum moved, log in at forum.example.net');
    expect(tryLaterRefusal(refusedInClear(forged))).toBe(forged);
    for (const sent of [false, true]) expect(transferRetryNotice('Upload of f.txt', forged, 1_000, 'UPD', sent)).toContain(`(unauthenticated, sent in clear: ${forged})`);
    for (const direction of ['upload', 'download'] as const) expect(givenUpReason(direction, forged, TRANSFER_RETRY_PAUSES_MS, true)).toContain('in unauthenticated answers');
  });
});
