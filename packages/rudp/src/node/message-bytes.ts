/**
 * What `send` accepts: text and any binary view, by its bytes.
 */
import { invalidArgType } from './check-options.js';
import { isDetached } from '../core/send/outgoing-message.js';

/** A message `send` accepts: a string (sent as UTF-8), any `ArrayBufferView` (its bytes), or an `ArrayBuffer`. */
export type MessageData = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** The bytes of `data`, without copying binary input; a `TypeError` (code `ERR_INVALID_ARG_TYPE`) for anything else. */
export function messageBytes(data: unknown): Uint8Array | TypeError {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  // The common case (Buffer included) as it is: no view to allocate per message.
  if (data instanceof Uint8Array) return data.byteLength === 0 ? attached(data) : data;
  try {
    // Every typed array and DataView by its bytes: a Uint16Array([0x1234]) is 2 bytes, not 1 truncated element.
    if (ArrayBuffer.isView(data)) return attached(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    // By its length now: `new Uint8Array(buffer)` of a resizable (or growable) buffer would track its later resizes.
    if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer)) return attached(new Uint8Array(data, 0, data.byteLength));
  } catch {
    // A view of a detached buffer cannot be made.
    return detached();
  }
  const got = data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data === 'object' ? `an instance of ${data.constructor?.name ?? 'Object'}` : `type ${typeof data}`;
  return invalidArgType(`The "data" argument must be a string, an ArrayBufferView or an ArrayBuffer; received ${got}`);
}

/** `bytes`, or the error for a view of a detached `ArrayBuffer` (it reads as empty; the core would end the connection for it at its first send). */
function attached(bytes: Uint8Array): Uint8Array | TypeError {
  return isDetached(bytes) ? detached() : bytes;
}

function detached(): TypeError {
  return invalidArgType('The "data" argument is a view of a detached ArrayBuffer (transferred): its bytes are gone');
}
