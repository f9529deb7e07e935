/**
 * The validation itself (core/connection/migration.ts `checkValidated`):
 * only a PATH_RESPONSE that comes FROM the candidate and echoes a challenge
 * sent there makes it the connection's validated address; an ACK of what
 * went there is the client's word and validates nothing. The transport
 * tests reach the other sources of such a response only through races
 * whose order the simulator does not let a test pick.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import { checkValidated } from '../../src/core/connection/migration.js';
import { PathValidation } from '../../src/core/path-validation.js';
import type { Frame } from '../../src/wire/frame.js';

const OLD = '10.0.0.1:5000';
const CANDIDATE = '10.0.0.1:6000';
const CHALLENGE = Uint8Array.of(0x51, 0x2e, 0x09, 0xfa, 0x77, 0x13, 0xc4, 0x80);

/** A server connection at `OLD`, moved to `CANDIDATE` and validating it with one challenge (in packet 7) out; what it moved to, and the moves its host heard of. */
function validating(): { readonly c: Connection; readonly moves: string[]; readonly told: string[]; readonly left: number[] } {
  const path = new PathValidation(CANDIDATE, 0, 100, 1200, true);
  // The connection moved at packet 7: what went before went to the old port.
  path.startPn = 7;
  path.onProbeSent(0, CHALLENGE.slice());
  const moves: string[] = [];
  const told: string[] = [];
  const left: number[] = [];
  const c = {
    state: 'established',
    remote: OLD,
    path,
    nextPn: 9,
    moveTo: (to: string) => void moves.push(to),
    host: { migrated: (_: Connection, previous: string) => void told.push(previous) },
    recovery: { leaveAddress: (firstPn: number) => void left.push(firstPn) },
  } as unknown as Connection;
  return { c, moves, told, left };
}

const response = (data: Uint8Array): Frame => ({ type: 'path-response', data });

describe('checkValidated', () => {
  it('moves to the candidate when a packet from there echoes its challenge', () => {
    const { c, moves, told, left } = validating();
    checkValidated(c, 0, CANDIDATE, [{ type: 'ping' }, response(CHALLENGE.slice())], 2);
    expect(moves).toEqual([CANDIDATE]);
    expect(told).toEqual([OLD]);
    expect(c.path).toBeUndefined();
    // A port change: what went to the old port before the move (packets 0-6) is declared lost, to be resent.
    expect(left).toEqual([7]);
  });

  it('does not move on the echo from the validated address or a third port (a challenge relayed to the client, its answer not from the candidate)', () => {
    for (const from of [OLD, '10.0.0.1:7000']) {
      const { c, moves, told, left } = validating();
      checkValidated(c, 0, from, [response(CHALLENGE.slice())], 1);
      expect({ moves, told, left }).toEqual({ moves: [], told: [], left: [] });
      expect(c.path).toBeDefined();
    }
  });

  it('does not move on an ACK of everything sent there (the client\'s word), a wrong echo, or a PATH_CHALLENGE with the data', () => {
    const wrong = CHALLENGE.slice();
    wrong[7] = (wrong[7] as number) ^ 0x80;
    const frames: readonly Frame[] = [
      { type: 'ack', ranges: [{ lo: 1, hi: 100 }], delayMicros: 0 },
      response(wrong),
      response(new Uint8Array(8)),
      { type: 'path-challenge', data: CHALLENGE.slice() },
    ];
    const { c, moves, told } = validating();
    checkValidated(c, 0, CANDIDATE, frames, frames.length);
    expect({ moves, told }).toEqual({ moves: [], told: [] });
    expect(c.path).toBeDefined();
  });

  it('looks only at the packet\'s `count` frames', () => {
    const { c, moves } = validating();
    checkValidated(c, 0, CANDIDATE, [{ type: 'ping' }, response(CHALLENGE.slice())], 1);
    expect(moves).toEqual([]);
  });
});
