/**
 * One progress line on stderr: rewritten in place (`\r`) on a terminal,
 * plain lines otherwise so logs stay readable.
 */
export class Progress {
  private done = 0;
  private lastWidth = 0;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** Announces the step about to run, e.g. `chat rudp p=0.1`. */
  step(label: string): void {
    this.done++;
    const line = `[${this.done}/${this.total}] ${label}`;
    if (this.tty) {
      const pad = Math.max(0, this.lastWidth - line.length);
      this.stream.write(`\r${line}${' '.repeat(pad)}`);
      this.lastWidth = line.length;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Prints a message on its own line (warnings), keeping the progress line intact below it. */
  log(message: string): void {
    if (this.tty && this.lastWidth > 0) this.stream.write(`\r${' '.repeat(this.lastWidth)}\r`);
    this.stream.write(`${message}\n`);
    this.lastWidth = 0;
  }

  /** Ends the progress line. */
  finish(): void {
    if (this.tty && this.lastWidth > 0) this.stream.write('\n');
    this.lastWidth = 0;
  }
}
