/**
 * The handshake state machine on its own: the client's INITIAL backoff
 * (×1.5, capped at 500 ms), the RETRY-timed interval, Karn's rule for the
 * RTT samples, the loss-rate seed, and the server's ACCEPT.
 */
import { describe, expect, it } from 'vitest';
import { ClientHandshake, ServerHandshake, type HandshakeParams } from '../../src/core/handshake.js';
import { type InitialPayload, MAX_DATAGRAM, PacketType, decodeAccept, decodeInitial, parseHeader } from '../../src/wire/packet.js';

/** Without copies: the round timing on its own (copies have tests of their own below). */
const CLIENT: HandshakeParams = { localCid: 0x1234, receiveWindow: 65_536, initialLimit: 65_536, mtu: 1_200, handshakeTimeoutMs: 5_000, copies: 0, copySpacingMs: 3 };
/** As connections run it: one copy of each INITIAL and ACCEPT, 3 ms apart. */
const CLIENT_COPIES: HandshakeParams = { ...CLIENT, copies: 1 };
const SERVER: HandshakeParams = { ...CLIENT, localCid: 0x5678 };

const scratch = (): Uint8Array => new Uint8Array(MAX_DATAGRAM);

/** The INITIAL `h` sends at `now` (decoded), or `undefined` if none is due. */
function initialAt(h: ClientHandshake, now: number): InitialPayload | undefined {
  const d = h.pollInitial(now, scratch());
  if (d === undefined) return undefined;
  expect(d.length).toBe(MAX_DATAGRAM);
  const header = parseHeader(d);
  if (typeof header === 'string') throw new Error(`INITIAL does not parse: ${header}`);
  expect(header.type).toBe(PacketType.Initial);
  return decodeInitial(header.payload);
}

/** Sends every INITIAL as it falls due until `until`, and returns when each left. */
function unansweredInitials(h: ClientHandshake, from: number, until: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < 100 && h.initialDeadline() <= until; i++) {
    const t = Math.max(from, h.initialDeadline());
    expect(initialAt(h, t)).toBeDefined();
    times.push(t);
  }
  return times;
}

describe('Handshake, client: INITIAL retransmission', () => {
  it('sends at once, then backs off ×1.5 per resend up to 500 ms', () => {
    const h = new ClientHandshake(CLIENT, 0);
    expect(h.initialDeadline()).toBe(0);
    const times = unansweredInitials(h, 0, 3_000);
    // 250, 375, 500 (562.5 capped), 500, …
    expect(times).toEqual([0, 250, 625, 1_125, 1_625, 2_125, 2_625]);
  });

  it('sends nothing before the deadline', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    expect(initialAt(h, 249)).toBeUndefined();
    expect(initialAt(h, 250)).toBeDefined();
  });

  it('the INITIAL carries our connection id and window, and after a RETRY the cookie', () => {
    const h = new ClientHandshake(CLIENT, 0);
    expect(initialAt(h, 0)).toEqual({ scid: 0x1234, token: new Uint8Array(0), params: { receiveWindow: 65_536, initialLimit: 65_536 }, hello: new Uint8Array(0) });
    const cookie = Uint8Array.of(1, 2, 3);
    expect(h.onRetry(40, cookie)).toBe(true);
    // The cookie is copied: the caller's buffer may be reused.
    cookie.fill(9);
    expect(initialAt(h, 40)?.token).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('the handshake gives up handshakeTimeoutMs after the connection was created', () => {
    expect(new ClientHandshake(CLIENT, 1_000).timeoutDeadline()).toBe(6_000);
  });
});

describe('Handshake, client: RETRY timing and Karn\'s rule', () => {
  it('a RETRY answering a first INITIAL times the path: resend at once, then after two of its round trips', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    expect(h.onRetry(40, Uint8Array.of(1))).toBe(true);
    expect(h.initialDeadline()).toBe(40);
    expect(unansweredInitials(h, 40, 400)).toEqual([40, 120, 240]);
  });

  it('the round trip is timed from the last INITIAL sent', () => {
    const h = new ClientHandshake(CLIENT, 1_000);
    initialAt(h, 1_000);
    h.onRetry(1_030, Uint8Array.of(1));
    expect(unansweredInitials(h, 1_030, 1_100)).toEqual([1_030, 1_090]);
  });

  it('the RETRY-timed interval is at least 10 ms and at most 250 ms', () => {
    const fast = new ClientHandshake(CLIENT, 0);
    initialAt(fast, 0);
    fast.onRetry(2, Uint8Array.of(1));
    expect(unansweredInitials(fast, 2, 12)).toEqual([2, 12]);
    const slow = new ClientHandshake(CLIENT, 0);
    initialAt(slow, 0);
    slow.onRetry(200, Uint8Array.of(1));
    expect(unansweredInitials(slow, 200, 450)).toEqual([200, 450]);
  });

  it('a RETRY after a timer resend is ambiguous (Karn): the blind 250 ms interval', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    initialAt(h, 250);
    h.onRetry(300, Uint8Array.of(1));
    expect(unansweredInitials(h, 300, 700)).toEqual([300, 550]);
  });

  it('a second RETRY is ignored', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    expect(h.onRetry(40, Uint8Array.of(1))).toBe(true);
    initialAt(h, 40);
    expect(h.onRetry(45, Uint8Array.of(2))).toBe(false);
    expect(h.initialDeadline()).toBe(120);
    expect(initialAt(h, 120)?.token).toEqual(Uint8Array.of(1));
  });

  it('the ACCEPT gives an RTT sample only if it answers an INITIAL that was not a timer resend', () => {
    const clean = new ClientHandshake(CLIENT, 0);
    initialAt(clean, 0);
    clean.onRetry(40, Uint8Array.of(1));
    initialAt(clean, 40);
    // The RETRY's round trip, then the ACCEPT's.
    expect(clean.rttSamples(75)).toEqual([40, 35]);
    const resent = new ClientHandshake(CLIENT, 0);
    initialAt(resent, 0);
    resent.onRetry(40, Uint8Array.of(1));
    initialAt(resent, 40);
    initialAt(resent, 120);
    expect(resent.rttSamples(150)).toEqual([40]);
    // Without a RETRY: the first INITIAL answered directly is a clean sample; a resend is not.
    const direct = new ClientHandshake(CLIENT, 0);
    initialAt(direct, 0);
    expect(direct.rttSamples(30)).toEqual([30]);
    initialAt(direct, 250);
    expect(direct.rttSamples(280)).toEqual([]);
  });
});

describe('Handshake, client: the loss-rate seed', () => {
  it('on a path faster than the blind timer: every resend is a loss, two INITIALs being the lossless count', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    h.onRetry(40, Uint8Array.of(1));
    // The server's copy of the RETRY.
    h.onRetry(40, Uint8Array.of(1));
    initialAt(h, 40);
    expect(h.lossRateSeed(true, 40)).toBe(0);
    const lossy = new ClientHandshake(CLIENT, 0);
    // Eight INITIALs in all: 1 − √(2/8) = 0.5.
    expect(unansweredInitials(lossy, 0, 2_700)).toHaveLength(7);
    lossy.onRetry(2_700, Uint8Array.of(1));
    unansweredInitials(lossy, 2_700, 2_750);
    expect(lossy.lossRateSeed(true, 40)).toBe(1 - Math.sqrt(2 / 8));
  });

  it('one INITIAL answered at once counts as no loss (never a negative rate)', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    expect(h.lossRateSeed(true, 30)).toBe(0);
  });

  it('on a slower path: only the cookie INITIALs timed on the RETRY count', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    h.onRetry(300, Uint8Array.of(1));
    // Interval 250 (capped 2 · 300): cookie INITIALs at 300, 550, 925, 1425.
    expect(unansweredInitials(h, 300, 1_500)).toEqual([300, 550, 925, 1_425]);
    expect(h.lossRateSeed(true, 300)).toBe(1 - Math.sqrt(1 / 4));
    expect(h.lossRateSeed(false, 250)).toBe(1 - Math.sqrt(1 / 4));
  });

  it('no measure without a RETRY and without a fast RTT sample', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    expect(h.lossRateSeed(false, 250)).toBeUndefined();
  });

  it('no measure when the RETRY itself was ambiguous and the RTT is unknown or slow', () => {
    const h = new ClientHandshake(CLIENT, 0);
    initialAt(h, 0);
    initialAt(h, 250);
    h.onRetry(300, Uint8Array.of(1));
    initialAt(h, 300);
    expect(h.lossRateSeed(false, 250)).toBeUndefined();
    expect(h.lossRateSeed(true, 250)).toBeUndefined();
  });
});

describe('Handshake, copies', () => {
  it('every INITIAL has a copy 3 ms later; copies are not resends', () => {
    const h = new ClientHandshake(CLIENT_COPIES, 0);
    expect(unansweredInitials(h, 0, 700)).toEqual([0, 3, 250, 253, 625, 628]);
    const clean = new ClientHandshake(CLIENT_COPIES, 0);
    initialAt(clean, 0);
    initialAt(clean, 3);
    clean.onRetry(40, Uint8Array.of(1));
    // The RETRY is timed from the INITIAL, not its copy.
    expect(unansweredInitials(clean, 40, 50)).toEqual([40, 43]);
    for (let i = 0; i < 3; i++) clean.onRetry(41 + i, Uint8Array.of(1));
    expect(clean.rttSamples(75)).toEqual([40, 35]);
    // Both INITIALs and both copies of each RETRY came: no loss.
    expect(clean.lossRateSeed(true, 37)).toBe(0);
  });

  it('the copy of a token-less INITIAL is not sent once a RETRY asked for the cookie', () => {
    const h = new ClientHandshake(CLIENT_COPIES, 0);
    initialAt(h, 0);
    h.onRetry(1, Uint8Array.of(7));
    expect(initialAt(h, 3)?.token).toEqual(Uint8Array.of(7));
    expect(initialAt(h, 6)?.token).toEqual(Uint8Array.of(7));
  });

  it('RETRY copies that did not come are a loss measure: 2 of 4 in (per crossing) 1 − √(2/4)', () => {
    const h = new ClientHandshake(CLIENT_COPIES, 0);
    initialAt(h, 0);
    initialAt(h, 3);
    h.onRetry(40, Uint8Array.of(1));
    h.onRetry(43, Uint8Array.of(1));
    expect(h.lossRateSeed(true, 40)).toBeCloseTo(1 - Math.sqrt(2 / 4), 12);
  });

  it('the server sends its first ACCEPT again 3 ms later, unless the client\'s first packet came first', () => {
    const h = new ServerHandshake({ ...SERVER, copies: 1 }, undefined);
    h.pollAccept(10, scratch(), 1, true);
    expect(h.acceptPending(12)).toBe(false);
    expect(h.copyDeadline()).toBe(13);
    expect(h.acceptPending(13)).toBe(true);
    h.pollAccept(13, scratch(), 1, false);
    expect(h.copyDeadline()).toBe(Number.POSITIVE_INFINITY);
    expect(h.acceptPending(100)).toBe(false);
    const answered = new ServerHandshake({ ...SERVER, copies: 1 }, undefined);
    answered.pollAccept(10, scratch(), 1, true);
    answered.onClientPacket(12);
    expect(answered.copyDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('Handshake, server', () => {
  it('owes an ACCEPT from the start (the client owes none), carrying our id and window to the client\'s', () => {
    const h = new ServerHandshake(SERVER, undefined);
    expect(h.acceptPending(0)).toBe(true);
    const d = h.pollAccept(10, scratch(), 0x1234, true);
    expect(h.acceptPending(10)).toBe(false);
    const header = parseHeader(d);
    if (typeof header === 'string') throw new Error(header);
    expect(header.type).toBe(PacketType.Accept);
    expect(header.dcid).toBe(0x1234);
    expect(decodeAccept(header.payload)).toEqual({ scid: 0x5678, params: { receiveWindow: 65_536, initialLimit: 65_536 }, kind: 0, handshake: new Uint8Array(0) });
  });

  it('a repeated INITIAL means the ACCEPT was lost: owe it again', () => {
    const h = new ServerHandshake(SERVER, undefined);
    h.pollAccept(10, scratch(), 1, true);
    h.onInitialAgain();
    expect(h.acceptPending(11)).toBe(true);
  });

  it('times the first ACCEPT to the client\'s first packet once, if the answer is prompt', () => {
    const h = new ServerHandshake(SERVER, undefined);
    h.pollAccept(10, scratch(), 1, true);
    expect(h.onClientPacket(40)).toBe(30);
    expect(h.onClientPacket(41)).toBeUndefined();
    // After a resend the first ACCEPT still times it: the answer is to it or a later one, so the
    // sample can only be too long, never too short.
    const resent = new ServerHandshake(SERVER, undefined);
    resent.pollAccept(10, scratch(), 1, true);
    resent.pollAccept(100, scratch(), 1, false);
    expect(resent.onClientPacket(150)).toBe(140);
    // A client with nothing to say sends its first packet late: no measure.
    const late = new ServerHandshake(SERVER, undefined);
    late.pollAccept(10, scratch(), 1, true);
    expect(late.onClientPacket(260)).toBeUndefined();
    const edge = new ServerHandshake(SERVER, undefined);
    edge.pollAccept(10, scratch(), 1, true);
    expect(edge.onClientPacket(259.5)).toBe(249.5);
  });
});
