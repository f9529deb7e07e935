/**
 * The frames of the packet being handled, in scratch shared by every
 * connection of the thread, and the questions the connection asks of them.
 */
import type { Frame } from '../../wire/frame.js';
import { FrameScratch } from '../../wire/frame-scratch.js';

/**
 * The frames of the packet being handled. One list for every connection:
 * a packet is handled to the end before the next is parsed (nothing in
 * handling one receives another), and its slots are cleared after it.
 */
export const FRAMES: Frame[] = [];
/** The first ACK frame and the fragment frames of the packet being handled (for every connection, as `FRAMES`). */
export const FRAME_SCRATCH = new FrameScratch();
/** What a cleared slot of `FRAMES` holds. */
export const EMPTY_FRAME: Frame = Object.freeze({ type: 'ping' });

/** Whether any of `frames[0, count)` passes `test`. */
export function anyFrame(frames: readonly Frame[], count: number, test: (f: Frame) => boolean): boolean {
  for (let i = 0; i < count; i++) if (test(frames[i] as Frame)) return true;
  return false;
}

/** Whether `f` is a REPAIR frame. */
export function isRepair(f: Frame): boolean {
  return f.type === 'repair';
}

/** Whether `f` is a CLOSE frame. */
export function isClose(f: Frame): boolean {
  return f.type === 'close';
}

/** Whether `f` asks for an acknowledgement. */
export function isAckEliciting(f: Frame): boolean {
  // MESSAGE_ACK is an acknowledgement too: answering it would ping-pong ACKs.
  return f.type !== 'ack' && f.type !== 'close' && f.type !== 'message-ack';
}
