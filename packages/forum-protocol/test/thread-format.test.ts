import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesBeforeEntry, bytesFromEntry, formatEntriesFrom, formatThreadFile, parseThreadFile, threadStoreProblem, type Thread, type ThreadEntry } from '../src/index.js';

const thread = (entries: readonly ThreadEntry[], creator = 'ann'): Thread => ({ title: 't', creator, entries });
const msg = (author: string, text: string): ThreadEntry => ({ kind: 'message', author, text });

describe('thread file lines', () => {
  it('keeps the author of a message whose user name contains the separator', () => {
    const t = thread([msg('bob:', 'hi'), msg('bob', ': hi'), msg('a:b', 'x: y'), msg('a::', ''), msg('c', ' lead and trail ')]);
    const text = formatThreadFile(t);
    expect(text).toBe('ann\n1 bob:: hi\n2 bob: : hi\n3 a:b: x: y\n4 a::: \n5 c:  lead and trail \n');
    expect(parseThreadFile('t', text)).toEqual(t);
    for (const e of t.entries) expect(threadStoreProblem(thread([e]))).toBeUndefined();
  });

  it('a message with U+2028, U+2029, U+0085 or a form feed stays one message', () => {
    const t = thread([msg('ann', 'one\u2028two'), msg('bob', '\u2029'), msg('ann', 'a\u0085b\fc\vd'), msg('bob', 'last')]);
    const back = parseThreadFile('t', formatThreadFile(t));
    expect(back).toEqual(t);
    expect(back?.entries.filter((e) => e.kind === 'message')).toHaveLength(4);
    expect(threadStoreProblem(t)).toBeUndefined();
  });

  it('refuses what would not read back the same, with a reason', () => {
    expect(threadStoreProblem(thread([msg('ann', 'a\nb')]))).toBe('the message text contains a line break (\\n or \\r)');
    expect(threadStoreProblem(thread([msg('ann', 'a\rb')]))).toBe('the message text contains a line break (\\n or \\r)');
    expect(threadStoreProblem(thread([msg('ann', 'a\u0000')]))).toBe('the message text contains a NUL character');
    expect(threadStoreProblem(thread([msg('ann', '\ud800')]))).toBe('the message text is not well-formed Unicode (a lone surrogate)');
    expect(threadStoreProblem(thread([msg('a b', 'x')]))).toBe('the author name contains white space');
    expect(threadStoreProblem(thread([msg('', 'x')]))).toBe('the author name is empty');
    expect(threadStoreProblem(thread([{ kind: 'upload', uploader: 'ann', filename: 'a b' }]))).toBe('the file name contains white space');
    expect(threadStoreProblem(thread([{ kind: 'other', line: '1 ann: looks like a message' }]))).toBe('entry 1 would not read back as the same line');
    expect(threadStoreProblem(thread([{ kind: 'other', line: 'ann uploaded f' }]))).toBe('entry 1 would not read back as the same line');
    expect(threadStoreProblem(thread([], 'a\u2028b'))).toBe('the creator name contains white space');
  });

  it('formatEntriesFrom is the end of formatThreadFile, numbered as in the whole thread', () => {
    const entry = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), author: fc.constantFrom('ann', 'bob:', '1'), text: fc.string({ unit: 'grapheme' }) }),
      fc.record({ kind: fc.constant('upload' as const), uploader: fc.constantFrom('ann', 'x'), filename: fc.constantFrom('f', 'g.txt') }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.nat(), (entries, k) => {
        const t = thread(entries);
        const from = entries.length === 0 ? 0 : k % (entries.length + 1);
        expect(formatThreadFile(t).endsWith(formatEntriesFrom(t, from))).toBe(true);
        expect(`ann\n${formatEntriesFrom(t, 0)}`).toBe(formatThreadFile(t));
      }),
    );
  });

  it('bytesBeforeEntry and bytesFromEntry split formatThreadFile\'s UTF-8 length at entry `from`', () => {
    const entry = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), author: fc.constantFrom('ann', 'bób', 'ü:'), text: fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })) }),
      fc.record({ kind: fc.constant('upload' as const), uploader: fc.constantFrom('ann', 'x'), filename: fc.constantFrom('f', 'ğ.txt') }),
      fc.record({ kind: fc.constant('other' as const), line: fc.string({ unit: 'grapheme', minLength: 1 }) }),
    );
    fc.assert(
      fc.property(fc.constantFrom('ann', 'zoë'), fc.array(entry, { maxLength: 12 }), fc.nat(), (creator, entries, k) => {
        const t = thread(entries, creator);
        const from = k % (entries.length + 1);
        const file = Buffer.from(formatThreadFile(t), 'utf8');
        expect(bytesBeforeEntry(t, from)).toBe(file.length - Buffer.byteLength(formatEntriesFrom(t, from), 'utf8'));
        expect(bytesFromEntry(t, from)).toBe(Buffer.byteLength(formatEntriesFrom(t, from), 'utf8'));
      }),
    );
  });

  it('entries said to read back already are not checked again; any other entry is', () => {
    const kept = msg('ann', 'a\rb');
    const t = thread([msg('bob', 'new'), kept]);
    expect(threadStoreProblem(t)).toBe('the message text contains a line break (\\n or \\r)');
    expect(threadStoreProblem(t, 0, new Set([kept]))).toBeUndefined();
    // Only that object: an equal entry made anew is checked.
    expect(threadStoreProblem(t, 0, new Set([msg('ann', 'a\rb')]))).toBe('the message text contains a line break (\\n or \\r)');
    expect(threadStoreProblem(thread([msg('bob', 'x\ny'), kept]), 0, new Set([kept]))).toBe('the message text contains a line break (\\n or \\r)');
  });

  it('any thread the store accepts reads back exactly (random strings, lone surrogates and line breaks included)', () => {
    const word = fc.oneof(fc.constantFrom('ann', 'bob:', 'a:b', ':', '1', 'uploaded', 'x\u2028'), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }));
    const entry = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), author: word, text: fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('a\u2028b', ': x', ' uploaded f', '\r')) }),
      fc.record({ kind: fc.constant('upload' as const), uploader: word, filename: word }),
      fc.record({ kind: fc.constant('other' as const), line: fc.string({ unit: 'binary', minLength: 1 }) }),
    );
    let accepted = 0;
    fc.assert(
      fc.property(word, fc.array(entry, { maxLength: 6 }), (creator, entries) => {
        const t = thread(entries, creator);
        if (threadStoreProblem(t) !== undefined) return;
        accepted++;
        expect(parseThreadFile('t', formatThreadFile(t))).toEqual(t);
      }),
      // Seeded: the count below depends on the draw.
      { seed: 20261202, numRuns: 2000 },
    );
    // The check is not vacuous: many random threads are storable.
    expect(accepted).toBeGreaterThan(100);
  });
});
