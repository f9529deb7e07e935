import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  decode,
  decodeServerMessage,
  encodeRequest,
  encodeServerMessage,
  idleTimeoutNotice,
  shutdownNotice,
  MAX_ARG_BYTES,
  MAX_ARGS,
  MAX_ID_LENGTH,
  MAX_REQUEST_BYTES,
  MAX_SERVER_MESSAGE_BYTES,
  simpleReply,
  RequestCommand,
  transferReply,
  type Request,
} from '../src/index.js';

const SEED = 20240611;
const enc = new TextEncoder();
const bytesOf = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));

const commands = Object.keys(RequestCommand.keys) as Request['cmd'][];
const arbRequest: fc.Arbitrary<Request> = fc.record({
  id: fc.string({ minLength: 1, maxLength: MAX_ID_LENGTH }),
  username: fc.string({ maxLength: 16, unit: 'binary' }),
  cmd: fc.constantFrom(...commands),
  // 1000 code points of up to 4 bytes stay within MAX_ARG_BYTES.
  args: fc.array(fc.string({ maxLength: 1000, unit: 'binary' }), { maxLength: MAX_ARGS }),
});

describe('decode', () => {
  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048, size: 'max' }), (b) => {
        const r = decode(b);
        expect(E.isLeft(r) || E.isRight(r)).toBe(true);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('never throws on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = decode(bytesOf(v));
        if (E.isLeft(r)) expect(r.left.reason.length).toBeGreaterThan(0);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('round-trips every valid request', () => {
    fc.assert(
      fc.property(arbRequest, (req) => {
        expect(decode(encodeRequest(req))).toEqual(E.right(req));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('round-trips the largest valid request, whose JSON escapes are worst-case', () => {
    const worst = '\u0001'.repeat(MAX_ARG_BYTES);
    const req: Request = { id: '\u0002'.repeat(MAX_ID_LENGTH), username: '\u0003'.repeat(64), cmd: 'EDT', args: [worst, worst, worst] };
    const bytes = encodeRequest(req);
    expect(bytes.length).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(decode(bytes)).toEqual(E.right(req));
  });

  it('refuses oversized requests and over-long fields with a readable reason', () => {
    const big = new Uint8Array(MAX_REQUEST_BYTES + 1).fill(0x20);
    expect(decode(big)).toEqual(E.left({ kind: 'tooLarge', reason: `message of ${MAX_REQUEST_BYTES + 1} bytes exceeds the limit of ${MAX_REQUEST_BYTES}` }));
    const longArg = decode(bytesOf({ id: '1', username: 'a', cmd: 'MSG', args: ['t', 'x'.repeat(MAX_ARG_BYTES + 1)] }));
    expect(E.isLeft(longArg) && longArg.left.kind).toBe('schema');
    expect(E.isLeft(longArg) && longArg.left.reason).toContain('args');
    const tooMany = decode(bytesOf({ id: '1', username: 'a', cmd: 'MSG', args: ['a', 'b', 'c', 'd'] }));
    expect(E.isLeft(tooMany) && tooMany.left.kind).toBe('schema');
    const noId = decode(bytesOf({ id: '', username: 'a', cmd: 'LST', args: [] }));
    expect(E.isLeft(noId) && noId.left.reason).toMatch(/^id: expected RequestId/);
  });

  it('refuses an unknown command word, bad UTF-8 and non-JSON', () => {
    const lower = decode(bytesOf({ id: '1', username: 'a', cmd: 'lst', args: [] }));
    expect(E.isLeft(lower) && lower.left.reason).toMatch(/^cmd: expected/);
    expect(decode(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual(E.left({ kind: 'encoding', reason: 'message is not valid UTF-8' }));
    const notJson = decode(enc.encode('{"id":'));
    expect(E.isLeft(notJson) && notJson.left.kind).toBe('json');
  });

  it('drops unknown fields', () => {
    expect(decode(bytesOf({ id: '1', username: 'a', cmd: 'LST', args: [], extra: true }))).toEqual(E.right({ id: '1', username: 'a', cmd: 'LST', args: [] }));
  });
});

describe('server messages', () => {
  it('never encodes a reply the client would refuse: one over MAX_SERVER_MESSAGE_BYTES becomes an error reply to the same request', () => {
    const lines = Array.from({ length: 3000 }, () => '\\'.repeat(1500));
    const huge = simpleReply('42', 'ok', lines);
    const bytes = encodeServerMessage(huge);
    expect(bytes.length).toBeLessThanOrEqual(MAX_SERVER_MESSAGE_BYTES);
    const decoded = decodeServerMessage(bytes);
    expect(E.isRight(decoded) && decoded.right.type === 'reply' ? [decoded.right.id, decoded.right.status] : decoded).toEqual(['42', 'error']);
    expect(E.isRight(decoded) && decoded.right.type === 'reply' ? decoded.right.lines[0] : '').toMatch(/^The reply is too large to send \(\d+ bytes; at most 8388608\)$/);
    // One just under the limit goes as it is.
    const fits = simpleReply('43', 'ok', lines.slice(0, 1000));
    expect(decodeServerMessage(encodeServerMessage(fits))).toEqual(E.right(fits));
  });

  it('round-trip replies and the idle-timeout notice; never throw on random bytes', () => {
    const reply = transferReply('7', { direction: 'download', thread: 't', incarnation: '3', filename: 'f', username: 'u', size: 12, completionLine: 'f successfully downloaded' }, 4000, 'ab'.repeat(32));
    expect(decodeServerMessage(encodeServerMessage(reply))).toEqual(E.right(reply));
    const notice = idleTimeoutNotice(600);
    expect(notice.text).toBe('Session timed out after 600 seconds of inactivity');
    expect(idleTimeoutNotice(1).text).toBe('Session timed out after 1 second of inactivity');
    expect(idleTimeoutNotice(0.5).text).toBe('Session timed out after 0.5 seconds of inactivity');
    expect(decodeServerMessage(encodeServerMessage(notice))).toEqual(E.right(notice));
    expect(decodeServerMessage(encodeServerMessage(shutdownNotice()))).toEqual(E.right({ type: 'notice', kind: 'shutdown', text: 'The server is shutting down' }));
    // A notice of a kind this client does not know is refused, not mistaken for another.
    expect(E.isLeft(decodeServerMessage(new TextEncoder().encode('{"type":"notice","kind":"reboot","text":"x"}')))).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024, size: 'max' }), (b) => {
        expect(E.isLeft(decodeServerMessage(b))).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('refuses a transfer reply with a port out of range', () => {
    const reply = transferReply('7', { direction: 'upload', thread: 't', incarnation: '0', filename: 'f', username: 'u', size: null, completionLine: 'x' }, 70000, 'tok');
    expect(E.isLeft(decodeServerMessage(encodeServerMessage(reply)))).toBe(true);
  });
});
