/**
 * The reply encoder (src/protocol/reply-bytes.ts) against `TextEncoder.encode(JSON.stringify(…))` where its own
 * tests do not reach: pieces long enough to go to the buffer on their own (512 characters) and gathered runs past
 * 16 KB, every character JSON escapes or might (all controls, U+2028/2029, U+FEFF, U+FFFF, lone and paired
 * surrogates at every place in a line and a piece), and the size limit at exactly its byte.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeServerMessage, MAX_SERVER_MESSAGE_BYTES, simpleReply, threadLines, type Reply, type ThreadEntry } from '../src/index.js';
import { encodeWithLines } from '../src/protocol/reply-bytes.js';

const SEED = 20261205;
const old = (message: Reply): Buffer => Buffer.from(new TextEncoder().encode(JSON.stringify(message)));
const same = (reply: Reply): boolean => Buffer.from(encodeServerMessage(reply)).equals(old(reply));

const CONTROLS = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i));
const TRICKY = [...CONTROLS, '"', '\\', '/', '\u007f', '\u0080', '\u2028', '\u2029', '\ufeff', '\uffff', '\ud800', '\udbff', '\udc00', '\udfff', '😀', '𐀀', 'é', '€', ': ', '","', '"lines":0'];
const unit = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...TRICKY) }, { weight: 5, arbitrary: fc.constantFrom('a', ' ', 'z', '0') }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) });
/** Short, around the 512-character line between gathered and written alone, or long (several KB). */
const text = fc.oneof(
  fc.string({ unit, maxLength: 8 }),
  fc.tuple(fc.integer({ min: 500, max: 530 }), fc.string({ unit, maxLength: 6 })).map(([n, s]) => 'x'.repeat(n - Math.min(n, s.length)) + s),
  fc.tuple(fc.string({ unit, maxLength: 6 }), fc.integer({ min: 490, max: 520 })).map(([s, n]) => s + 'y'.repeat(n)),
  fc.string({ unit, minLength: 300, maxLength: 3000 }),
);

describe('reply bytes: JSON.stringify and TextEncoder, byte for byte', () => {
  it('for any lines, long and short, with every character JSON escapes', () => {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 16 }), fc.array(text, { maxLength: 40 }), (id, lines) => same(simpleReply(id, 'ok', lines, { kind: 'threadLines', title: id, count: lines.length }))),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("for any thread's entries, written piece by piece", () => {
    const entry: fc.Arbitrary<ThreadEntry> = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), author: text, text }),
      fc.record({ kind: fc.constant('upload' as const), uploader: text, filename: text }),
      fc.record({ kind: fc.constant('other' as const), line: text }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries) => {
        const lines = threadLines({ title: 't', creator: 'c', entries });
        return same(simpleReply('1', 'ok', lines, { kind: 'threadLines', title: 't', count: lines.length }));
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('many short lines gathered past 16 KB, escaped ones among them', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `${i}\u0001"\ud83d` : i % 11 === 0 ? `${i}😀\u2028` : `${i} ok`));
    expect(same(simpleReply('g', 'ok', lines))).toBe(true);
    expect(same(simpleReply('e', 'error', []))).toBe(true);
    expect(same(simpleReply('', 'ok', ['']))).toBe(true);
  });

  it('is refused at one byte over the limit and sent at exactly it', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 10 }), (lines) => {
        const reply = simpleReply('b', 'ok', lines);
        const size = old(reply).length;
        let told = -1;
        expect(Buffer.from(encodeWithLines(reply, size) ?? []).equals(old(reply))).toBe(true);
        expect(encodeWithLines(reply, size - 1, (n) => (told = n))).toBeUndefined();
        expect(told).toBe(size);
      }),
      { seed: SEED, numRuns: 200 },
    );
    // And at MAX_SERVER_MESSAGE_BYTES itself, through encodeServerMessage: a multi-byte character straddling it.
    const frame = old(simpleReply('m', 'ok', [''])).length;
    const fill = (extra: number): Reply => simpleReply('m', 'ok', ['a'.repeat(MAX_SERVER_MESSAGE_BYTES - frame - 3 + extra) + '€']);
    expect(old(fill(0)).length).toBe(MAX_SERVER_MESSAGE_BYTES);
    expect(Buffer.from(encodeServerMessage(fill(0))).equals(old(fill(0)))).toBe(true);
    const refused = new TextDecoder().decode(encodeServerMessage(fill(1)));
    expect(refused).toContain(`The reply is too large to send (${MAX_SERVER_MESSAGE_BYTES + 1} bytes; at most ${MAX_SERVER_MESSAGE_BYTES})`);
  });
});
