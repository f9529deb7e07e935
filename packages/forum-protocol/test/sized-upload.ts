import * as E from 'fp-ts/lib/Either.js';
import { commandErrorText, type ForumStore, type UploadError } from '../src/index.js';

/** An upload as the server makes it: its size announced as it begins, `size` bytes written, then committed. */
export const uploadSized = async (store: ForumStore, title: string, filename: string, user: string, size: number): Promise<E.Either<UploadError, void>> => {
  const writer = await store.beginUpload(title, filename, user, undefined, size)();
  if (E.isLeft(writer)) return writer;
  await new Promise<void>((resolve, reject) => writer.right.stream.write(Buffer.alloc(size, 7), (err) => (err ? reject(err) : resolve())));
  return writer.right.commit();
};

/** What the client is told of an upload's outcome: `OK`, or the refusal's line. */
export const uploadOutcomeText = (r: E.Either<UploadError, void>): string => (E.isLeft(r) ? commandErrorText(r.left) : 'OK');
