/**
 * The credit that keeps a plaintext connection's unprompted answers (ACK-only packets and path echoes:
 * `Connection.ackCredit`; a draining end's CLOSE answers: `Closing.answerCredit`) within 3x of what the
 * peer's packets brought, as RFC 9000 §8 bounds what an unvalidated address may be sent. Nothing
 * authenticates a plaintext packet, so anyone on the path could otherwise have them answered many times
 * over toward the peer's address (attack round 24).
 */
import { MAX_PROBED_DATAGRAM } from '../../wire/packet.js';

/** The answers may take this many times the bytes of the packets received. */
export const ANSWER_FACTOR = 3;

/**
 * Most credit either kind keeps: what 16 full datagrams give, so a long honest transfer (or a peer's data
 * after a lost CLOSE) does not bank room for a forger to spend later.
 */
export const ACK_CREDIT_CAP = ANSWER_FACTOR * 16 * MAX_PROBED_DATAGRAM;

/** `credit` after a packet of `size` bytes arrived: 3x its bytes more, at most `ACK_CREDIT_CAP`. */
export const earnCredit = (credit: number, size: number): number => Math.min(ACK_CREDIT_CAP, credit + ANSWER_FACTOR * size);

/** `credit` after an answer of `bytes` left: never below 0 (see transmit.ts: a copy anyone can replay brings none). */
export const spendCredit = (credit: number, bytes: number): number => Math.max(0, credit - bytes);
