/**
 * The server's rudp receive budget against its connection limit. rudp charges each connection the credit
 * it granted (a logged-in one its 128 KiB session window, sent or not) and keeps a sixteenth of the budget
 * in reserve; with rudp's 1 GiB default, sessions past some 7,680 got a 4 KiB floor and never learnt their
 * raised window, so their long requests were refused by `send` (the rudpx review of session 32).
 */
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES } from 'forum-protocol';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES } from 'rudpx/core';
import { MAX_TRANSPORT_CONNECTIONS, SESSION_RECEIVE_WINDOW, TRANSPORT_RECEIVE_BUDGET } from '../src/forum-server.js';

/** What of `budget` rudp grants before it falls back to floors: all but its reserve, a sixteenth. */
const grantable = (budget: number): number => budget - Math.floor(budget / 16);

describe('forum-server transport receive budget', () => {
  it('grants every connection the endpoint may hold its whole session window', () => {
    expect(MAX_TRANSPORT_CONNECTIONS * SESSION_RECEIVE_WINDOW).toBeLessThanOrEqual(grantable(TRANSPORT_RECEIVE_BUDGET));
    // rudp's default would not: the case this budget exists for.
    expect(Math.floor(grantable(DEFAULT_MAX_RECEIVE_BUFFER_BYTES) / SESSION_RECEIVE_WINDOW)).toBeLessThan(MAX_TRANSPORT_CONNECTIONS);
  });

  it('is a budget rudp accepts, and the session window holds the largest request', () => {
    expect(Number.isSafeInteger(TRANSPORT_RECEIVE_BUDGET)).toBe(true);
    expect(TRANSPORT_RECEIVE_BUDGET).toBeLessThanOrEqual(2 ** 50);
    expect(SESSION_RECEIVE_WINDOW).toBeGreaterThan(MAX_REQUEST_BYTES);
  });
});
