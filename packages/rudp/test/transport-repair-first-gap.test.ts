/**
 * The receiver's repair decoder starts at the first gap in packet numbers,
 * not at the first repair. A sender turns repairs on only once it hears of a
 * loss, a round trip after it, and its first repairs cover every message
 * still unacknowledged, the lost one and those sent since. A decoder started
 * by that first repair never saw the bytes of the messages that arrived
 * meanwhile, so it could use none of those repairs, and a second loss soon
 * after waited for repairs over a later run or for its resend.
 */
import { describe, expect, it } from 'vitest';
import { DELAY, INTERVAL, latenciesWithLosses } from './helpers/small-messages-with-losses.js';

describe('repairs after the first loss of a clean connection', () => {
  it('a second loss soon after the first is rebuilt by the next packet: the decoder kept the messages since the first gap', () => {
    const { latency, pair } = latenciesWithLosses({}, [4, 10]);
    // Message 10's packet left after the first repairs: the repair in packet 11 covers messages
    // 4..10, of which only 10 is missing, and rebuilds it one send interval after it was sent.
    expect(latency[10]).toBeCloseTo(INTERVAL + DELAY, 6);
    expect(pair.serverConn()?.stats().messagesRecovered).toBeGreaterThanOrEqual(1);
  });
});
