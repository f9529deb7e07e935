import * as E from 'fp-ts/lib/Either.js';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import type { UploadError } from '../src/store/store.js';

/**
 * Uploads `bytes` as `filename` by `who` to thread `t` through `store`, a chunk at a time, and commits. A write
 * after the store stopped the upload fails (its stream destroyed): the commit says why.
 */
export const uploadInChunks = async (store: PostgresStore, who: string, filename: string, bytes: Buffer): Promise<E.Either<UploadError, void>> => {
  const begun = await store.beginUpload('t', filename, who)();
  if (E.isLeft(begun)) return begun;
  const w = begun.right;
  for (let at = 0; at < bytes.length && !w.stream.destroyed; at += UPLOAD_CHUNK_BYTES) {
    await new Promise<void>((resolve) => w.stream.write(bytes.subarray(at, at + UPLOAD_CHUNK_BYTES), () => resolve()));
  }
  return w.commit();
};
