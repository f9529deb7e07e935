/**
 * A reply is encoded once, into the buffer sent (src/protocol/reply-bytes.ts). Before, the RDT of a 4 MiB
 * thread was stringified whole (a 4 MiB string, 8 MiB for text outside Latin-1) and then encoded (4 MiB more):
 * building a reply cost the server two to three times what its budget counted.
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeServerMessage, MAX_SERVER_MESSAGE_BYTES, simpleReply, threadLines, transferReply, type Reply, type Thread, type ThreadEntry } from '../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const SEED = 20261204;
const old = (message: Reply): Uint8Array => new TextEncoder().encode(JSON.stringify(message));

afterEach(() => vi.restoreAllMocks());

describe('a reply encoded once', () => {
  it('no JSON text of the whole reply is made, and its bytes are one buffer of exactly its size', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `${i + 1} alice: ${'lorem ipsum '.repeat(333)}`);
    const reply = simpleReply('r1', 'ok', lines, { kind: 'threadLines', title: 'big', count: lines.length });
    const expected = old(reply);
    const stringify = vi.spyOn(JSON, 'stringify');
    const encode = vi.spyOn(TextEncoder.prototype, 'encode');
    const bytes = encodeServerMessage(reply);
    const longest = Math.max(...stringify.mock.results.map((r) => (typeof r.value === 'string' ? r.value.length : 0)));
    // Before: JSON.stringify returned the whole reply (4,010,xxx characters), then TextEncoder copied it.
    expect(longest).toBeLessThan(1024);
    expect(encode).not.toHaveBeenCalled();
    expect(bytes.length).toBeGreaterThan(4_000_000);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
    expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
  });

  it('an oversized reply is refused before its bytes are made', () => {
    const lines = Array.from({ length: 3000 }, () => '\\'.repeat(1500));
    const reply = simpleReply('42', 'ok', lines);
    const size = old(reply).length;
    const stringify = vi.spyOn(JSON, 'stringify');
    const bytes = encodeServerMessage(reply);
    expect(new TextDecoder().decode(bytes)).toContain(`The reply is too large to send (${size} bytes; at most 8388608)`);
    expect(bytes.length).toBeLessThan(1024);
    // Each line's JSON once, never the reply's (9 MB).
    expect(Math.max(...stringify.mock.results.map((r) => String(r.value).length))).toBeLessThan(4000);
    expect(MAX_SERVER_MESSAGE_BYTES).toBe(8388608);
  });

  it('gives the bytes JSON.stringify and TextEncoder gave, for any lines: quotes, controls, astral and lone surrogates', () => {
    const line = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\ud800', '\udc00', '😀', 'é', 'a', '"lines":0') }));
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.array(line, { maxLength: 20 }), fc.constantFrom('ok', 'error') as fc.Arbitrary<'ok' | 'error'>, (id, lines, status) => {
        const reply = simpleReply(id, status, lines);
        expect(Buffer.from(encodeServerMessage(reply)).equals(Buffer.from(old(reply)))).toBe(true);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    const transfer = transferReply('7', { direction: 'download', thread: 't', incarnation: '3', filename: 'f', username: 'u', size: 12, completionLine: 'f successfully downloaded' }, 4000, 'ab'.repeat(32));
    expect(Buffer.from(encodeServerMessage(transfer)).equals(Buffer.from(old(transfer)))).toBe(true);
  });

  it("a thread's lines are written from its entries: they are not joined into a copy of the thread", () => {
    // As the file store holds a thread: each text a slice of the file's one string.
    const file = Array.from({ length: 1000 }, (_, i) => `${i + 1} alice: ${'lorem ipsum '.repeat(333)}${i}`).join('\n');
    const entries: ThreadEntry[] = file.split('\n').map((l) => ({ kind: 'message', author: 'alice', text: l.slice(l.indexOf(': ') + 2) }));
    const thread: Thread = { title: 'big', creator: 'alice', entries };
    const lines = threadLines(thread);
    const reply = simpleReply('r1', 'ok', lines, { kind: 'threadLines', title: 'big', count: lines.length });
    const before = heapAfterGc();
    const bytes = encodeServerMessage(reply);
    // The lines still referenced: had they been joined (measured or written whole), each would now hold its
    // own 4 KB copy, 4 MB in all (3,997,xxx bytes more on the encoder that wrote lines whole).
    const grown = heapAfterGc() - before;
    expect(grown).toBeLessThan(500_000);
    expect(bytes.length).toBeGreaterThan(4_000_000);
    expect(Buffer.from(bytes).equals(Buffer.from(old(reply)))).toBe(true);
    expect(lines.length).toBe(1000);
  });

  it("a thread's lines give the bytes JSON.stringify gave, for any entries", () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\ud800', '\udc00', '😀', 'é', 'a', ': ') }));
    const entry: fc.Arbitrary<ThreadEntry> = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), author: text, text }),
      fc.record({ kind: fc.constant('upload' as const), uploader: text, filename: text }),
      fc.record({ kind: fc.constant('other' as const), line: text }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), (entries) => {
        const lines = threadLines({ title: 't', creator: 'c', entries });
        const reply = simpleReply('1', 'ok', lines, { kind: 'threadLines', title: 't', count: lines.length });
        expect(Buffer.from(encodeServerMessage(reply)).equals(Buffer.from(old(reply)))).toBe(true);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

