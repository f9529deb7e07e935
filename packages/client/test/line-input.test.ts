import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineInput } from '../src/line-input.js';

/** A stand-in terminal: keys go in through `type`, everything written comes out in `screen`. */
const fakeTerminal = () => {
  const input = Object.assign(new PassThrough(), { isTTY: true, isRaw: false, setRawMode(mode: boolean) { this.isRaw = mode; return this; } });
  let screen = '';
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        screen += chunk.toString();
        done();
      },
    }),
    { isTTY: true, columns: 120, rows: 40 },
  );
  return { input, output, type: (keys: string) => void input.write(keys), screen: () => screen };
};

describe('LineInput on a terminal', () => {
  it('a terminal that hung up (raw mode cannot be reset: EIO) ends the input instead of throwing', async () => {
    const t = fakeTerminal();
    // What a hung-up terminal does: reads end, and setting the mode back fails (tty.ReadStream emits the error).
    t.input.setRawMode = function (mode: boolean) {
      if (!mode) {
        this.emit('error', Object.assign(new Error('setRawMode EIO'), { code: 'EIO' }));
        return this;
      }
      this.isRaw = mode;
      return this;
    };
    const lines = new LineInput(true, () => undefined, t);
    const user = lines.ask('Enter username: ');
    t.input.end();
    expect(await user).toBeUndefined();
    expect(await lines.ask('Enter password: ')).toBeUndefined();
  });

  it('echoes a username but not a hidden password, and keeps going with echo back on', async () => {
    const t = fakeTerminal();
    const lines = new LineInput(true, () => undefined, t);
    const user = lines.ask('Enter username: ');
    t.type('yoda\r');
    expect(await user).toBe('yoda');
    expect(t.screen()).toContain('yoda');

    const before = t.screen().length;
    const pass = lines.ask('Enter password: ', { hidden: true });
    t.type('s3cret-pw\r');
    expect(await pass).toBe('s3cret-pw');
    const shown = t.screen().slice(before);
    expect(shown).toContain('Enter password: ');
    expect(shown).not.toContain('s3cret');
    // The Enter still moves to a new line.
    expect(shown.endsWith('\n')).toBe(true);

    const cmd = lines.ask('> ');
    t.type('LST\r');
    expect(await cmd).toBe('LST');
    expect(t.screen().slice(before)).toContain('LST');
    lines.close();
  });

  it('backspace and editing work while hidden, and nothing of the password is shown', async () => {
    const t = fakeTerminal();
    const lines = new LineInput(true, () => undefined, t);
    const pass = lines.ask('Enter password: ', { hidden: true });
    t.type('abx\x7fc\r');
    expect(await pass).toBe('abc');
    expect(t.screen()).not.toMatch(/ab/);
    lines.close();
  });

  it('a hidden line does not go into the history (up-arrow cannot show it)', async () => {
    const t = fakeTerminal();
    const lines = new LineInput(true, () => undefined, t);
    const first = lines.ask('Enter username: ');
    t.type('yoda\r');
    await first;
    const pass = lines.ask('Enter password: ', { hidden: true });
    t.type('topsecret\r');
    await pass;
    const recalled = lines.ask('> ');
    // Up-arrow recalls the previous line into the editor, Enter submits it.
    t.type('\x1b[A\r');
    expect(await recalled).toBe('yoda');
    expect(t.screen()).not.toContain('topsecret');
    lines.close();
  });

  it('Ctrl-C at a hidden prompt reaches the interrupt handler', async () => {
    const t = fakeTerminal();
    let interrupts = 0;
    const lines = new LineInput(true, () => {
      interrupts++;
      lines.end();
    }, t);
    const pass = lines.ask('Enter password: ', { hidden: true });
    t.type('par\x03');
    expect(await pass).toBeUndefined();
    expect(interrupts).toBe(1);
    expect(t.screen()).not.toContain('par');
    lines.close();
  });
});

describe('LineInput from a pipe', () => {
  it('answers lines in order and writes prompts as they are, hidden or not', async () => {
    const input = new PassThrough();
    let screen = '';
    const output = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        screen += chunk.toString();
        done();
      },
    });
    const lines = new LineInput(false, () => undefined, { input, output });
    input.end('yoda\npw\n');
    expect(await lines.ask('Enter username: ')).toBe('yoda');
    expect(await lines.ask('Enter password: ', { hidden: true })).toBe('pw');
    expect(await lines.ask('> ')).toBeUndefined();
    expect(screen).toBe('Enter username: Enter password: > ');
    lines.close();
  });

  it("drops the byte order mark a file saved by Windows' Notepad starts with: the first line is the username typed", async () => {
    const input = new PassThrough();
    const output = new Writable({ write: (_chunk, _enc, done) => done() });
    const lines = new LineInput(false, () => undefined, { input, output });
    // Before, the username was '\ufeffyoda', refused as `Invalid username: must not contain spaces` (exit 7).
    input.end('\ufeffyoda\r\n\ufeffpw\r\n');
    expect(await lines.ask('Enter username: ')).toBe('yoda');
    // Only the input's start is a file's: a mark later is the line's own.
    expect(await lines.ask('Enter password: ')).toBe('\ufeffpw');
    lines.close();
  });

  it('once ended (Ctrl-C, SIGHUP), lines the pipe delivers later are not answered either', async () => {
    // A script's lines arrive as its writer sends them: those after the interrupt are the rest that is not run.
    const input = new PassThrough();
    const output = new Writable({ write: (_chunk, _enc, done) => done() });
    const lines = new LineInput(false, () => undefined, { input, output });
    input.write('yoda\n');
    expect(await lines.ask('Enter username: ')).toBe('yoda');
    const pending = lines.ask('Enter password: ');
    lines.end();
    expect(await pending).toBeUndefined();
    // Read (and split into lines by readline) after the end: the old input queued them and answered the next ask.
    input.write('pw\nLST\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await lines.ask('> ')).toBeUndefined();
    expect(await lines.ask('> ')).toBeUndefined();
    lines.close();
  });
});

describe('LineInput from a pipe', () => {
  // `yes LST | forum-client PORT`: every line was read ahead and queued while the client waited on the server,
  // memory without bound. The source is to be held back once enough lines wait.
  it('stops reading an endless source once lines wait unasked, and reads on as they are asked for', async () => {
    const total = 200_000;
    let produced = 0;
    const source = Readable.from(
      (function* () {
        while (produced < total) {
          produced += 100;
          yield 'LST\n'.repeat(100);
        }
      })(),
    );
    let ended = false;
    source.on('end', () => (ended = true));
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const lines = new LineInput(false, () => undefined, { input: source, output: sink });
    expect(await lines.ask('> ')).toBe('LST');
    // Read until the source ends (as before) or is held back: no timer, the state decides.
    while (!ended && !source.isPaused()) await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    expect(produced).toBeLessThan(total / 4);
    // Asked for, the lines come on, to the source's end.
    const before = produced;
    for (let i = 1; i < 20_000; i++) expect(await lines.ask('> ')).toBe('LST');
    expect(produced).toBeGreaterThan(before);
    lines.close();
  });
});
