/**
 * Preload (`node --import attack/clock-offset.mjs <server bin> …`): the process's wall clock, `Date.now` and
 * `new Date()`, is the real one plus the number of milliseconds in the file $A17_CLOCK_FILE (read every 50 ms;
 * absent or unreadable: 0). This stands for the machine's clock stepped (NTP's step, a VM resumed, an operator's
 * `date -s`) without touching the machine's clock, which other processes share. `performance.now` is untouched,
 * as a real step leaves CLOCK_MONOTONIC alone.
 */
import { readFileSync } from 'node:fs';

const file = process.env.A17_CLOCK_FILE;
if (file === undefined) throw new Error('clock-offset.mjs: set A17_CLOCK_FILE');
let offset = 0;
const read = () => {
  try {
    offset = Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    offset = 0;
  }
};
read();
setInterval(read, 50).unref();
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
class SteppedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + offset);
    else super(...args);
  }
  static now() {
    return realNow() + offset;
  }
}
globalThis.Date = SteppedDate;
