import readline from 'node:readline';

/**
 * Lines from standard input, one at a time and strictly in order, however
 * fast a pipe delivers them. On a terminal it prompts through readline (so
 * editing works); from a pipe it writes the prompt as is and does not echo.
 */
export class LineInput {
  private readonly queued: string[] = [];
  private ended = false;
  private waiter: ((line: string | undefined) => void) | undefined;
  private readonly rl: readline.Interface;
  /** True while a prompt is shown and no line has answered it (output then starts on a new line). */
  promptPending = false;

  constructor(
    private readonly terminal: boolean,
    onInterrupt: () => void,
  ) {
    this.rl = readline.createInterface({
      input: process.stdin,
      ...(terminal ? { output: process.stdout } : {}),
      terminal,
      crlfDelay: Infinity,
    });
    this.rl.on('line', (line) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w !== undefined) w(line);
      else this.queued.push(line);
    });
    this.rl.on('close', () => this.finishInput());
    if (terminal) this.rl.on('SIGINT', onInterrupt);
  }

  /** Prints `prompt` and resolves with the next line, or `undefined` at end of input. */
  ask(prompt: string): Promise<string | undefined> {
    if (this.terminal) {
      this.rl.setPrompt(prompt);
      this.rl.prompt();
    } else {
      process.stdout.write(prompt);
    }
    const line = this.queued.shift();
    this.promptPending = line === undefined;
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = (l) => {
        if (l !== undefined) this.promptPending = false;
        resolve(l);
      };
    });
  }

  /** Ctrl-C: lines typed ahead are dropped, and the pending and every later `ask` gets `undefined`. */
  end(): void {
    this.queued.length = 0;
    this.finishInput();
  }

  /** End of input: lines already read are still answered, then `ask` gets `undefined`. */
  private finishInput(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** Releases the terminal. */
  close(): void {
    this.ended = true;
    this.rl.close();
  }
}
