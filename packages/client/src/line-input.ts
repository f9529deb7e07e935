import readline from 'node:readline';
import { LineBound, MAX_INPUT_LINE_BYTES } from './line-bound.js';
import { Writable } from 'node:stream';

/** The streams a {@link LineInput} reads and prompts on (standard input and output by default; tests pass fakes). */
export interface LineStreams {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream & { readonly columns?: number; readonly rows?: number };
}

/**
 * readline's output, with a switch: while `muted`, what readline writes (the
 * echo of typed keys and its cursor moves) is dropped, so a password typed
 * at a terminal is not shown. The terminal's size is passed through so
 * readline lays out lines as it would on the terminal itself.
 */
class EchoSwitch extends Writable {
  muted = false;

  constructor(private readonly target: LineStreams['output']) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (!this.muted) this.target.write(chunk);
    done();
  }

  get columns(): number | undefined {
    return this.target.columns;
  }

  get rows(): number | undefined {
    return this.target.rows;
  }

  get isTTY(): boolean {
    return true;
  }
}

/** How {@link LineInput.ask} shows what is typed. */
export interface AskOptions {
  /** Do not echo the line (passwords); on a terminal only, as a pipe echoes nothing anyway. */
  readonly hidden?: boolean;
}

/**
 * The lines read ahead and not yet asked for past which the input is paused (what readline has of a chunk still
 * comes): `yes LST | forum-client PORT` queued every line while the client waited on the server, memory without bound.
 */
export const MAX_QUEUED_LINES = 1_000;

/**
 * Lines from standard input, one at a time and strictly in order, however
 * fast a pipe delivers them. On a terminal it prompts through readline (so
 * editing works) and can hide what is typed; from a pipe it writes the prompt
 * as is and does not echo.
 */
export class LineInput {
  private readonly queued: string[] = [];
  private ended = false;
  private waiter: ((line: string | undefined) => void) | undefined;
  private readonly rl: readline.Interface;
  private readonly echo: EchoSwitch | undefined;
  /** readline keeps this very array as its history: hidden lines are taken back out of it. */
  private readonly history: string[] = [];
  private readonly output: LineStreams['output'];
  /** True while a prompt is shown and no line has answered it (output then starts on a new line). */
  promptPending = false;
  private sawLine = false;
  private overlongLine = false;
  private readonly cut = new AbortController();
  private settleFirst: (hadLine: boolean) => void = () => undefined;
  /** Resolves once the input has its first line (`true`), or ended without one (`false`: empty, or ended by a signal). */
  readonly firstLine = new Promise<boolean>((resolve) => (this.settleFirst = resolve));

  constructor(
    private readonly terminal: boolean,
    onInterrupt: () => void,
    streams: LineStreams = { input: process.stdin, output: process.stdout },
  ) {
    this.output = streams.output;
    this.echo = terminal ? new EchoSwitch(streams.output) : undefined;
    // A file or pipe may hold a line without end (`< /dev/zero`): read through a bound. A terminal's lines are typed.
    const source = streams.input;
    const input = terminal
      ? source
      : source.pipe(
          new LineBound(MAX_INPUT_LINE_BYTES, () => {
            this.overlongLine = true;
            source.unpipe();
            source.pause();
          }),
        );
    // Piped, the source's errors (a terminal hung up under `| tee log`: EIO) no longer reach readline: the end of input all the same.
    if (input !== source) source.on('error', () => this.finishInput());
    this.rl = readline.createInterface({
      input,
      ...(this.echo === undefined ? {} : { output: this.echo }),
      terminal,
      history: this.history,
      crlfDelay: Infinity,
    });
    this.rl.on('line', (read) => {
      // Ended by Ctrl-C or SIGHUP: what a pipe delivers later is the rest of the script, which is not run.
      if (this.ended) return;
      // A file's byte order mark (Notepad saves UTF-8 with one) is no part of its first line: kept, it made the
      // username `\ufeffalice`, refused as containing spaces.
      const line = !this.sawLine && !terminal && read.startsWith('\ufeff') ? read.slice(1) : read;
      this.sawLine = true;
      this.settleFirst(true);
      const w = this.waiter;
      this.waiter = undefined;
      if (w !== undefined) w(line);
      else if (this.queued.push(line) >= MAX_QUEUED_LINES) this.rl.pause();
    });
    this.rl.on('close', () => this.finishInput());
    // A terminal that hung up fails readline's reads and its reset of raw mode (EIO): that is the end of input, not a crash.
    this.rl.on('error', () => this.finishInput());
    if (terminal) this.rl.on('SIGINT', onInterrupt);
  }

  /** Prints `prompt` and resolves with the next line, or `undefined` at end of input. */
  ask(prompt: string, options: AskOptions = {}): Promise<string | undefined> {
    const hide = options.hidden === true && this.echo !== undefined;
    if (this.terminal) {
      this.rl.setPrompt(prompt);
      this.rl.prompt();
    } else {
      this.output.write(prompt);
    }
    if (hide && this.echo !== undefined) this.echo.muted = true;
    const line = this.queued.shift();
    if (this.queued.length < MAX_QUEUED_LINES) this.rl.resume();
    this.promptPending = line === undefined;
    if (line !== undefined) return Promise.resolve(this.answered(line, hide));
    if (this.ended) return Promise.resolve(this.answered(undefined, hide));
    return new Promise((resolve) => {
      this.waiter = (l) => {
        if (l !== undefined) this.promptPending = false;
        resolve(this.answered(l, hide));
      };
    });
  }

  /** Ends a hidden prompt: echo back on, the line taken out of the history, and the newline the muted Enter did not show. */
  private answered(line: string | undefined, hidden: boolean): string | undefined {
    if (!hidden || this.echo === undefined) return line;
    this.echo.muted = false;
    if (line !== undefined) {
      if (this.history[0] === line) this.history.shift();
      this.output.write('\n');
    }
    return line;
  }

  /** Ctrl-C or SIGHUP: lines typed ahead are dropped, and the pending and every later `ask` gets `undefined`. */
  end(): void {
    this.queued.length = 0;
    this.cut.abort();
    this.finishInput();
  }

  /**
   * Aborted once {@link end} cuts the input short (a signal; not the input's own end): a wait that was to lead to
   * the next answer (a script's login tried again after a pause) is over.
   */
  get cutShort(): AbortSignal {
    return this.cut.signal;
  }

  /** End of input: lines already read are still answered, then `ask` gets `undefined`. */
  private finishInput(): void {
    if (this.ended) return;
    this.ended = true;
    this.settleFirst(this.sawLine);
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** True once the input was cut at a line longer than any answer or command (`< /dev/zero`): not its end. */
  get overlong(): boolean {
    return this.overlongLine;
  }

  /** True once a line came (even one not yet asked for): the input was not empty. */
  get hadLine(): boolean {
    return this.sawLine;
  }

  /** Releases the terminal. */
  close(): void {
    this.ended = true;
    this.settleFirst(this.sawLine);
    if (this.echo !== undefined) this.echo.muted = false;
    this.rl.close();
  }
}
