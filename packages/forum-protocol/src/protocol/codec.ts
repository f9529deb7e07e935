import * as E from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { MAX_REQUEST_BYTES, MAX_SERVER_MESSAGE_BYTES } from './limits.js';
import { Request, ServerMessage } from './messages.js';
import type { EncodedLinesCache } from './encoded-lines-cache.js';
import { encodeWithLines } from './reply-bytes.js';

/** Why bytes could not be decoded; `reason` is readable (for a log line). */
export interface DecodeError {
  readonly kind: 'tooLarge' | 'encoding' | 'json' | 'schema';
  readonly reason: string;
}

const encoder = new TextEncoder();

const describe = (errors: t.Errors): string => {
  const first = errors[0];
  if (first === undefined) return 'invalid value';
  const path = first.context
    .map((c) => c.key)
    .filter((k) => k !== '')
    .join('.');
  const expected = first.context[first.context.length - 1]?.type.name ?? 'unknown';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${path === '' ? 'message' : path}: expected ${expected}${more}`;
};

const decodeWith =
  <A>(codec: t.Decoder<unknown, A>, maxBytes: number) =>
  (bytes: Uint8Array): E.Either<DecodeError, A> => {
    if (bytes.length > maxBytes) return E.left({ kind: 'tooLarge', reason: `message of ${bytes.length} bytes exceeds the limit of ${maxBytes}` });
    let text: string;
    let json: unknown;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return E.left({ kind: 'encoding', reason: 'message is not valid UTF-8' });
    }
    try {
      json = JSON.parse(text);
    } catch (e) {
      return E.left({ kind: 'json', reason: `message is not JSON: ${e instanceof Error ? e.message : 'parse error'}` });
    }
    return E.mapLeft((errors: t.Errors): DecodeError => ({ kind: 'schema', reason: describe(errors) }))(codec.decode(json));
  };

/**
 * Decodes a request (UTF-8 JSON, at most {@link MAX_REQUEST_BYTES}). Never
 * throws: any bytes give either a request or a {@link DecodeError}.
 */
export const decode: (bytes: Uint8Array) => E.Either<DecodeError, Request> = decodeWith(Request, MAX_REQUEST_BYTES);

/** Encodes a request as UTF-8 JSON; `decode(encodeRequest(r))` gives `r` back for every valid `r`. */
export const encodeRequest = (request: Request): Uint8Array =>
  encoder.encode(JSON.stringify({ id: request.id, username: request.username, cmd: request.cmd, args: request.args }));

/** Decodes what the server sent (a reply or a notice), at most {@link MAX_SERVER_MESSAGE_BYTES}. Never throws. */
export const decodeServerMessage: (bytes: Uint8Array) => E.Either<DecodeError, ServerMessage> = decodeWith(
  ServerMessage,
  MAX_SERVER_MESSAGE_BYTES,
);

/**
 * Encodes a reply or notice as UTF-8 JSON, never larger than
 * {@link MAX_SERVER_MESSAGE_BYTES}: a reply the client would refuse to
 * decode (the RDT of a huge thread, the LST of a huge forum) becomes an
 * error reply to the same request that says so, instead of a silence the
 * client can only time out on. (A notice is a line or two: never that large.)
 * A reply is written once into the buffer returned (`encodeWithLines`): no
 * JSON text of the whole reply is made, and an oversized one is refused
 * before its bytes are. With `cache`, a thread's lines encoded for an
 * earlier reply of the same thread value are copied, not encoded again.
 */
export const encodeServerMessage = (message: ServerMessage, cache?: EncodedLinesCache): Uint8Array => {
  if (message.type !== 'reply') return encoder.encode(JSON.stringify(message));
  let size = 0;
  const bytes = encodeWithLines(message, MAX_SERVER_MESSAGE_BYTES, (n) => (size = n), cache);
  if (bytes !== undefined) return bytes;
  const refusal: ServerMessage = {
    type: 'reply',
    id: message.id,
    status: 'error',
    lines: [`The reply is too large to send (${size} bytes; at most ${MAX_SERVER_MESSAGE_BYTES})`],
    data: { kind: 'none' },
  };
  return encoder.encode(JSON.stringify(refusal));
};
