import * as E from 'fp-ts/lib/Either.js';
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { dispatch, openFileStore, parseCommandLine, type CommandOutcome, type ForumStore, type Reply, type UploadError } from '../src/index.js';

/** Parses a typed line and runs it as `username` against `store`; fails the test on a grammar error. */
export const run = async (store: ForumStore, username: string, line: string, id = 'r1'): Promise<CommandOutcome> => {
  const parsed = parseCommandLine(line);
  if (E.isLeft(parsed)) throw new Error(`test line does not parse: ${parsed.left.text}`);
  return dispatch(store, { username, connectionKey: `conn-${username}` }, id, parsed.right.cmd, parsed.right.args)();
};

/** The reply of an outcome that must be a plain reply. */
export const replyOf = (o: CommandOutcome): Reply => {
  if (o.kind !== 'reply') throw new Error(`expected a reply, got ${o.kind}`);
  return o.reply;
};

/** The printed lines of a plain-reply outcome. */
export const lines = async (p: Promise<CommandOutcome>): Promise<readonly string[]> => replyOf(await p).lines;

/** Reads a stream to the end. */
export const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
};

/** Uploads `bytes` through the store's writer and commits; returns the commit result. */
export const upload = async (store: ForumStore, title: string, filename: string, user: string, bytes: Uint8Array): Promise<E.Either<UploadError, void>> => {
  const writer = await store.beginUpload(title, filename, user)();
  if (E.isLeft(writer)) return writer;
  await new Promise<void>((resolve, reject) => writer.right.stream.write(Buffer.from(bytes), (err) => (err ? reject(err) : resolve())));
  return writer.right.commit();
};

/** Opens the data-directory store in `dir`; fails the test if it cannot. */
export const openStoreIn = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

/** The intent records (of UPD's commits and RMVs) in data directory `dir`. */
export const intentRecords = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.forum-intent-'));
