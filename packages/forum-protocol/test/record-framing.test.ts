import { nodeCryptoProvider as crypto } from 'rudpx';
import { createExporter } from 'rudpx/crypto';
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_PLAINTEXT, RecordOpener, RecordSealer } from '../src/transfer/record-framing.js';
import { deriveTransferKeys } from '../src/transfer/transfer-keys.js';

const key = crypto.randomBytes(32);
const concat = (parts: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const text = (parts: readonly Uint8Array[]): string => Buffer.concat(parts).toString('utf8');

/** Seals `messages` (the last one final) into one byte string. */
const stream = (messages: readonly string[]): Uint8Array => {
  const sealer = new RecordSealer(crypto, key);
  return concat(messages.flatMap((m, i) => sealer.seal(Buffer.from(m), i === messages.length - 1)));
};

describe('sealed transfer records', () => {
  it('round-trips split at every byte boundary; the wire does not contain the plaintext', () => {
    const wire = stream(['SIZE 11\n', 'hello world', '']);
    expect(Buffer.from(wire).includes(Buffer.from('hello'))).toBe(false);
    for (let cut = 0; cut <= wire.length; cut++) {
      const opener = new RecordOpener(crypto, key);
      const a = opener.push(wire.subarray(0, cut));
      const b = opener.push(wire.subarray(cut));
      if (!a.ok || !b.ok) throw new Error(`failed at cut ${cut}`);
      expect(text([...a.data, ...b.data])).toBe('SIZE 11\nhello world');
      expect(a.final || b.final).toBe(true);
      expect(opener.ended).toBe(true);
    }
  });

  it('splits large writes into 16 KiB records and reassembles them', () => {
    const big = crypto.randomBytes(3 * MAX_RECORD_PLAINTEXT + 5);
    const records = new RecordSealer(crypto, key).seal(big, true);
    expect(records).toHaveLength(4);
    const r = new RecordOpener(crypto, key).push(concat(records));
    if (!r.ok) throw new Error(r.reason);
    expect(Buffer.compare(Buffer.concat(r.data), Buffer.from(big))).toBe(0);
    expect(r.final).toBe(true);
  });

  it('reassembles records fed in pieces of every size from a buffer the caller reuses', () => {
    const big = crypto.randomBytes(2 * MAX_RECORD_PLAINTEXT + 777);
    const wire = concat(new RecordSealer(crypto, key).seal(big, true));
    for (const piece of [1, 2, 3, 7, 1000, 16_403, 16_404, 40_000]) {
      const opener = new RecordOpener(crypto, key);
      const scratch = new Uint8Array(piece);
      const out: Uint8Array[] = [];
      let final = false;
      for (let at = 0; at < wire.length; at += piece) {
        const part = wire.subarray(at, at + piece);
        scratch.set(part);
        const r = opener.push(scratch.subarray(0, part.length));
        scratch.fill(0xee); // a socket reusing its buffer must not change what was kept
        if (!r.ok) throw new Error(`piece ${piece} at ${at}: ${r.reason}`);
        out.push(...r.data.map((d) => d.slice()));
        final ||= r.final;
      }
      expect(Buffer.compare(Buffer.concat(out), Buffer.from(big)), `piece ${piece}`).toBe(0);
      expect(final).toBe(true);
    }
  });

  it('any altered byte fails: header bytes as malformed or auth, body and tag bytes as auth', () => {
    const wire = stream(['abc', 'defgh']);
    for (let i = 0; i < wire.length; i++) {
      const bad = wire.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      const r = new RecordOpener(crypto, key).push(bad);
      // A flipped length byte can also leave the record incomplete: then it never ends, which is a failure too.
      const failed = !r.ok || !r.final;
      expect(failed, `byte ${i}`).toBe(true);
    }
  });

  it('reordered, dropped or replayed records fail authentication (the nonce is the record index)', () => {
    const sealer = new RecordSealer(crypto, key);
    const [r0, r1, r2] = [sealer.seal(Buffer.from('one'))[0], sealer.seal(Buffer.from('two'))[0], sealer.seal(Buffer.from('three'), true)[0]];
    if (!r0 || !r1 || !r2) throw new Error('no record');
    expect(new RecordOpener(crypto, key).push(concat([r1, r0, r2]))).toEqual({ ok: false, reason: 'auth' });
    expect(new RecordOpener(crypto, key).push(concat([r0, r2]))).toEqual({ ok: false, reason: 'auth' });
    expect(new RecordOpener(crypto, key).push(concat([r0, r0, r1, r2]))).toEqual({ ok: false, reason: 'auth' });
    const ok = new RecordOpener(crypto, key).push(concat([r0, r1, r2]));
    expect(ok.ok && text(ok.data)).toBe('onetwothree');
  });

  it('a stream cut before its final record never ends; bytes after the final record are refused', () => {
    const sealer = new RecordSealer(crypto, key);
    const opener = new RecordOpener(crypto, key);
    const r = opener.push(concat(sealer.seal(Buffer.from('partial'))));
    expect(r.ok && !r.final).toBe(true);
    expect(opener.ended).toBe(false);
    const done = opener.push(concat(sealer.seal(new Uint8Array(0), true)));
    expect(done.ok && done.final).toBe(true);
    expect(opener.push(Uint8Array.of(0))).toEqual({ ok: false, reason: 'after-final' });
    // And the failure sticks.
    expect(opener.push(new Uint8Array(0))).toEqual({ ok: false, reason: 'after-final' });
  });

  it('an abort record ends the stream unfinished with its authenticated reason; nothing after it, and none once the final record is sealed', () => {
    const sealer = new RecordSealer(crypto, key);
    const data = concat(sealer.seal(Buffer.from('the first bytes')));
    const abort = sealer.abort(Buffer.from('Thread t does not exist'));
    if (abort === undefined) throw new Error('no abort record');
    expect(Buffer.from(abort).includes(Buffer.from('Thread'))).toBe(false);
    // Split anywhere, the data before it is passed on as it comes, and the abort reads as its reason.
    for (let cut = 0; cut <= data.length + abort.length; cut++) {
      const wire = concat([data, abort]);
      const opener = new RecordOpener(crypto, key);
      const a = opener.push(wire.subarray(0, cut));
      const b = opener.push(wire.subarray(cut));
      expect(b, `cut ${cut}`).toEqual({ ok: false, reason: 'aborted', message: 'Thread t does not exist' });
      expect(a.ok || cut === wire.length).toBe(true);
      expect(opener.ended).toBe(false);
      // And it sticks: nothing after it is read.
      expect(opener.push(Uint8Array.of(0))).toEqual({ ok: false, reason: 'aborted', message: 'Thread t does not exist' });
    }
    // Its reason is authenticated like any record: altered, it is a failure, not a reason.
    const bad = abort.slice();
    bad[5] = (bad[5] ?? 0) ^ 1;
    const opener = new RecordOpener(crypto, key);
    opener.push(data);
    expect(opener.push(bad)).toEqual({ ok: false, reason: 'auth' });
    // Nothing can be sealed after it; and a stream already whole cannot be aborted.
    expect(() => sealer.seal(Buffer.from('more'))).toThrow();
    const whole = new RecordSealer(crypto, key);
    whole.seal(Buffer.from('all'), true);
    expect(whole.abort(Buffer.from('too late'))).toBeUndefined();
  });

  it('the other direction key, another session or another token cannot open the records', () => {
    const session = createExporter(crypto, crypto.randomBytes(32));
    const a = deriveTransferKeys(session, 'a'.repeat(64));
    const b = deriveTransferKeys(session, 'b'.repeat(64));
    const otherSession = deriveTransferKeys(createExporter(crypto, crypto.randomBytes(32)), 'a'.repeat(64));
    expect(Buffer.compare(Buffer.from(a.clientToServer), Buffer.from(a.serverToClient))).not.toBe(0);
    const wire = concat(new RecordSealer(crypto, a.clientToServer).seal(Buffer.from('x'), true));
    expect(new RecordOpener(crypto, a.serverToClient).push(wire)).toEqual({ ok: false, reason: 'auth' });
    expect(new RecordOpener(crypto, b.clientToServer).push(wire)).toEqual({ ok: false, reason: 'auth' });
    expect(new RecordOpener(crypto, otherSession.clientToServer).push(wire)).toEqual({ ok: false, reason: 'auth' });
    expect(new RecordOpener(crypto, a.clientToServer).push(wire).ok).toBe(true);
  });

  it('garbage is malformed, not a crash', () => {
    expect(new RecordOpener(crypto, key).push(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ ok: false, reason: 'malformed' });
    expect(new RecordOpener(crypto, key).push(Uint8Array.of(0, 0, 3, 1, 2, 3))).toEqual({ ok: false, reason: 'malformed' });
    expect(new RecordOpener(crypto, key).push(Uint8Array.of(0, 0xff, 0xff))).toEqual({ ok: false, reason: 'malformed' });
  });
});
