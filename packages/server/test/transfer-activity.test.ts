/**
 * TransferActivity on a fake clock: what it keeps of a user once their transfers and session ended.
 * Attack round 14: a session that ended while its transfer ran left the transfer's end time behind
 * for good (only a session's end forgot it, and that end had passed): one entry an account.
 */
import { describe, expect, it } from 'vitest';
import { TransferActivity } from '../src/transfer-activity.js';

describe('TransferActivity', () => {
  it('a session that ends while its transfer runs leaves nothing once the transfer ends', () => {
    let now = 1000;
    const a = new TransferActivity(() => now);
    a.opened('alice');
    a.start('alice');
    a.forget('alice');
    expect(a.busy('alice')).toBe(true);
    now = 5000;
    a.finish('alice');
    expect(a.lastFinished('alice')).toBeUndefined();
    expect(a.size).toBe(0);
    // 1,000 accounts doing the same keep nothing either.
    for (let i = 0; i < 1000; i++) {
      a.opened(`u${i}`);
      a.start(`u${i}`);
      a.forget(`u${i}`);
      a.finish(`u${i}`);
    }
    expect(a.size).toBe(0);
  });

  it('a live session still reads the end of its transfer, and forgets it when it ends', () => {
    let now = 0;
    const a = new TransferActivity(() => now);
    a.opened('bob');
    a.start('bob');
    now = 70;
    a.finish('bob');
    expect(a.lastFinished('bob')).toBe(70);
    a.forget('bob');
    expect(a.size).toBe(0);
  });

  it('a new session of the user that starts a transfer while the old one still runs keeps the last end', () => {
    let now = 0;
    const a = new TransferActivity(() => now);
    a.opened('carol');
    a.start('carol');
    a.forget('carol'); // the first session ended mid-transfer
    a.opened('carol');
    a.start('carol'); // the next one started its own
    now = 10;
    a.finish('carol');
    expect(a.busy('carol')).toBe(true);
    now = 20;
    a.finish('carol');
    expect(a.busy('carol')).toBe(false);
    expect(a.lastFinished('carol')).toBe(20);
    a.forget('carol');
    expect(a.size).toBe(0);
  });
  it('a session taken over after its successor started a transfer: the successor still reads that transfer\'s end', () => {
    // The old connection learns of the takeover late (`endTakenOver`): the new session logged in and
    // started a long download first. Its end must still count as activity, or it idled out at once.
    let now = 0;
    const a = new TransferActivity(() => now);
    a.opened('dave'); // the first session
    a.opened('dave'); // the one that took it over
    a.start('dave'); // the new session's download
    a.forget('dave'); // the old session ends
    now = 600_000;
    a.finish('dave');
    expect(a.lastFinished('dave')).toBe(600_000);
    a.forget('dave'); // the new session ends
    expect(a.size).toBe(0);
  });

  it('a transfer of a user with no live session here (its token issued by another server of the database, or redeemed as its session ended) leaves nothing', () => {
    // Before: its end was written to `finished` for good (only a session's end forgets, and none was
    // here): one entry for each account whose transfer a server served for another server's session.
    let now = 0;
    const a = new TransferActivity(() => now);
    a.opened('erin');
    a.forget('erin'); // XIT, the DWN's token redeemed before its revocation landed
    a.start('erin');
    now = 50;
    a.finish('erin');
    expect(a.lastFinished('erin')).toBeUndefined();
    expect(a.size).toBe(0);
    for (let i = 0; i < 1000; i++) {
      a.start(`v${i}`); // a token issued by another server
      a.finish(`v${i}`);
    }
    expect(a.size).toBe(0);
  });
});
