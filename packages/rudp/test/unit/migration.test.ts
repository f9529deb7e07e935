/**
 * The validation itself (core/connection/migration.ts `checkValidated`):
 * only an acknowledgement of a PING that comes FROM the candidate makes it
 * the connection's validated address. The transport tests reach the other sources of such an ACK
 * only through races whose order the simulator does not let a test pick.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import { checkValidated } from '../../src/core/connection/migration.js';
import { PathValidation } from '../../src/core/path-validation.js';
import type { Frame } from '../../src/wire/frame.js';

const OLD = '10.0.0.1:5000';
const CANDIDATE = '10.0.0.1:6000';

/** A server connection at `OLD` validating `CANDIDATE` with one PING (packet 7) out; what it moved to, and the moves its host heard of. */
function validating(): { readonly c: Connection; readonly moves: string[]; readonly told: string[] } {
  const path = new PathValidation(CANDIDATE, 0, 100, 1200, 7, false);
  path.onProbeSent(0, 7);
  const moves: string[] = [];
  const told: string[] = [];
  const c = {
    state: 'established',
    remote: OLD,
    path,
    moveTo: (to: string) => void moves.push(to),
    host: { migrated: (_: Connection, previous: string) => void told.push(previous) },
  } as unknown as Connection;
  return { c, moves, told };
}

const ackOf7: readonly Frame[] = [{ type: 'ack', ranges: [{ lo: 7, hi: 7 }], delayMicros: 0 }];

describe('checkValidated', () => {
  it('moves to the candidate when a packet from there acknowledges its PING', () => {
    const { c, moves, told } = validating();
    checkValidated(c, CANDIDATE, ackOf7, 1);
    expect(moves).toEqual([CANDIDATE]);
    expect(told).toEqual([OLD]);
    expect(c.path).toBeUndefined();
  });

  it('does not move on the same ACK from the validated address or a third port (a PING relayed to the client, its answer not from the candidate)', () => {
    for (const from of [OLD, '10.0.0.1:7000']) {
      const { c, moves, told } = validating();
      checkValidated(c, from, ackOf7, 1);
      expect({ moves, told }).toEqual({ moves: [], told: [] });
      expect(c.path).toBeDefined();
    }
  });
});
