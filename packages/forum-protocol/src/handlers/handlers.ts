import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import * as O from 'fp-ts/lib/Option.js';
import * as T from 'fp-ts/lib/Task.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { ForumCommand } from '../protocol/commands.js';
import { commandErrorLog, commandErrorText, type CommandError } from '../store/errors.js';
import { validateArgs } from '../protocol/grammar.js';
import type { Reply, ReplyData, Request, TransferDirection } from '../protocol/messages.js';
import type { Session } from '../store/session.js';
import type { ForumStore } from '../store/store.js';
import { sameName } from '../protocol/names.js';
import { MAX_THREAD_REPLY_BYTES } from '../protocol/limits.js';
import { threadLines, type Thread } from '../store/thread.js';
import { threadGrowthGuard } from '../store/thread-growth.js';
import { threadShareGuard } from '../store/thread-share.js';
import { changedSize, type MessageEdit, type NumberedMessage } from '../store/message-change.js';
import type { ThreadSize } from '../store/thread-size.js';
import type { ThreadIncarnation } from '../store/thread-incarnations.js';

/** A transfer the handler approved; the server issues a token and answers with {@link transferReply}. */
export interface PendingTransfer {
  readonly direction: TransferDirection;
  readonly thread: string;
  /** The thread the store checked (`checkUpload`, `statUpload`): the token binds the transfer to it. */
  readonly incarnation: ThreadIncarnation;
  readonly filename: string;
  readonly username: string;
  /** Bytes to download, or `null` for an upload. */
  readonly size: number | null;
  /** The line the client prints when the transfer has finished. */
  readonly completionLine: string;
}

/** What a command does besides replying. */
export type Effect = { readonly kind: 'none' } | { readonly kind: 'logout' } | { readonly kind: 'transfer'; readonly transfer: PendingTransfer };

/** A command that succeeded: the lines to print, the data to carry, and its effect. */
export interface HandlerSuccess {
  readonly lines: readonly string[];
  readonly data: ReplyData;
  readonly effect: Effect;
}

/** One forum command: pure over the store; `args` have passed {@link validateArgs}. */
export type Handler = (store: ForumStore, session: Session, args: readonly string[]) => TE.TaskEither<CommandError, HandlerSuccess>;

const NONE: ReplyData = { kind: 'none' };
const ok = (lines: readonly string[], data: ReplyData = NONE, effect: Effect = { kind: 'none' }): HandlerSuccess => ({ lines, data, effect });

const arg = (args: readonly string[], i: number): string => args[i] ?? '';

const existingThread = (store: ForumStore, title: string): TE.TaskEither<CommandError, Thread> =>
  pipe(
    store.getThread(title),
    TE.chainW(O.match(() => TE.left<CommandError, Thread>({ kind: 'noThread', title }), (th) => TE.right(th))),
  );

// Message numbers are digits by grammar; anything not naming an existing message is "Invalid message number"
// (0 names none: the store finds no message 0).
const messageNumber = (n: string): number => {
  const num = Number(n);
  return Number.isSafeInteger(num) && num >= 1 ? num : 0;
};

const ownMessage = (m: NumberedMessage, username: string): E.Either<CommandError, NumberedMessage> =>
  m.author === username ? E.right(m) : E.left({ kind: 'notAuthor' });

/**
 * The edit, unless the thread's RDT reply would then be longer than
 * {@link MAX_THREAD_REPLY_BYTES}: a thread one user fills past what a reply
 * can carry would be unreadable for everyone (and each RDT of it a large
 * allocation).
 */
const withinReplyLimit = (size: ThreadSize, m: NumberedMessage, edit: MessageEdit): E.Either<CommandError, MessageEdit> =>
  changedSize(size, m, edit).replyBytes > MAX_THREAD_REPLY_BYTES ? E.left({ kind: 'threadFull', title: size.title }) : E.right(edit);

const NO_MESSAGE: CommandError = { kind: 'invalidMessageNumber' };

/** The handler of every forum command; the dispatcher looks commands up here. */
export const handlers: Readonly<Record<ForumCommand, Handler>> = {
  CRT: (store, session, args) => {
    const title = arg(args, 0);
    return pipe(
      store.createThread(title, session.username),
      TE.chainW((created) => (created ? TE.right(ok([`Thread ${title} created`])) : TE.left<CommandError>({ kind: 'threadExists', title }))),
    );
  },
  MSG: (store, session, args) => {
    const title = arg(args, 0);
    return pipe(
      store.appendEntry<CommandError>(
        title,
        { kind: 'message', author: session.username, text: arg(args, 1) },
        threadGrowthGuard(title),
        session.username,
      ),
      TE.map(() => ok([`Message posted to ${title} thread`])),
    );
  },
  DLT: (store, session, args) =>
    pipe(
      store.changeMessage<CommandError>(
        arg(args, 0),
        messageNumber(arg(args, 1)),
        { noMessage: NO_MESSAGE, decide: (m) => E.map((): MessageEdit => ({ kind: 'delete' }))(ownMessage(m, session.username)) },
        session.username,
      ),
      TE.map(() => ok(['The message has been deleted'])),
    ),
  EDT: (store, session, args) =>
    pipe(
      store.changeMessage<CommandError>(
        arg(args, 0),
        messageNumber(arg(args, 1)),
        {
          noMessage: NO_MESSAGE,
          decide: (m, size) => E.chain(() => withinReplyLimit(size, m, { kind: 'edit', text: arg(args, 2) }))(ownMessage(m, session.username)),
          share: threadShareGuard(arg(args, 0)),
        },
        session.username,
      ),
      TE.map(() => ok(['The message has been edited'])),
    ),
  LST: (store) =>
    pipe(
      store.listThreads(),
      TE.map((titles) =>
        titles.length === 0
          ? ok(['No threads to list'], { kind: 'threadList', count: 0 })
          : ok(['The list of active threads:', ...titles], { kind: 'threadList', count: titles.length }),
      ),
    ),
  RDT: (store, _session, args) =>
    pipe(
      existingThread(store, arg(args, 0)),
      TE.map((th) => {
        const lines = threadLines(th);
        return ok(lines.length === 0 ? [`Thread ${th.title} is empty`] : lines, { kind: 'threadLines', title: th.title, count: lines.length });
      }),
    ),
  UPD: (store, session, args) => {
    const [title, filename] = [arg(args, 0), arg(args, 1)];
    return pipe(
      existingThread(store, title),
      TE.chainEitherKW((th): E.Either<CommandError, void> =>
        // The same name in another spelling (`A.txt` for `a.txt`) is the same file on a case-insensitive disk.
        th.entries.some((e) => e.kind === 'upload' && sameName(e.filename, filename)) ? E.left({ kind: 'fileExists', title, filename }) : E.right(undefined),
      ),
      // Refused before a token is issued, for whatever the store would refuse the upload for now (a full
      // thread or forum, a name taken), so the client never sends bytes only to have them refused on
      // arrival; the store checks again as the upload begins and as it commits (things may change meanwhile).
      // The thread it checked goes into the token: if the title is removed and made again before the bytes
      // come, the upload is refused rather than landing in a thread it was never granted for.
      TE.chainW(() => store.checkUpload(title, filename, session.username)),
      TE.map((incarnation) =>
        ok([], NONE, {
          kind: 'transfer',
          transfer: { direction: 'upload', thread: title, incarnation, filename, username: session.username, size: null, completionLine: `${filename} uploaded to ${title} thread` },
        }),
      ),
    );
  },
  DWN: (store, session, args) => {
    const [title, filename] = [arg(args, 0), arg(args, 1)];
    return pipe(
      store.statUpload(title, filename),
      TE.mapLeft((e): CommandError => e),
      // The thread it found goes into the token: if the title is removed (and maybe made again, with a file of
      // the name) before the transfer starts, the download is refused rather than serving another thread's file.
      TE.map(({ size, incarnation }) =>
        ok([], NONE, {
          kind: 'transfer',
          transfer: { direction: 'download', thread: title, incarnation, filename, username: session.username, size, completionLine: `${filename} successfully downloaded` },
        }),
      ),
    );
  },
  RMV: (store, session, args) => {
    const title = arg(args, 0);
    return pipe(
      store.removeThread<CommandError>(title, (th) => (th.creator === session.username ? E.right(undefined) : E.left({ kind: 'notCreator' }))),
      TE.map(() => ok([`Thread ${title} removed`])),
    );
  },
  XIT: () => TE.right(ok(['Goodbye'], { kind: 'goodbye' }, { kind: 'logout' })),
};

/** The result of one forum command: a reply to send now, or a transfer for which the server must first issue a token. */
export type CommandOutcome =
  | { readonly kind: 'reply'; readonly reply: Reply; readonly log: readonly string[]; readonly logout: boolean }
  | { readonly kind: 'transfer'; readonly id: string; readonly transfer: PendingTransfer; readonly log: readonly string[] };

/** Builds a reply carrying no data. */
export const simpleReply = (id: string, status: Reply['status'], lines: readonly string[], data: ReplyData = NONE): Reply => ({
  type: 'reply',
  id,
  status,
  lines,
  data,
});

/** The reply to a UPD/DWN request once the server has a TCP `port` and a single-use `token` for it. */
export const transferReply = (id: string, transfer: PendingTransfer, port: number, token: string): Reply =>
  simpleReply(id, 'ok', [], {
    kind: 'transfer',
    direction: transfer.direction,
    thread: transfer.thread,
    filename: transfer.filename,
    port,
    token,
    size: transfer.size,
    completionLine: transfer.completionLine,
  });

/**
 * Runs a forum command for `session`: validates the arguments, looks the
 * handler up, and turns any {@link CommandError} into an error reply. Never
 * rejects. The log starts with `U issued CMD command`.
 */
export const dispatch = (store: ForumStore, session: Session, id: string, cmd: ForumCommand, args: readonly string[]): T.Task<CommandOutcome> => {
  const issued = `${session.username} issued ${cmd} command`;
  return pipe(
    TE.fromEither(E.mapLeft((g: { readonly text: string }): CommandError => ({ kind: 'syntax', text: g.text }))(validateArgs(cmd, args))),
    TE.chain((valid) => handlers[cmd](store, session, valid)),
    TE.match(
      (e): CommandOutcome => ({ kind: 'reply', reply: simpleReply(id, 'error', [commandErrorText(e)]), log: [issued, ...commandErrorLog(e)], logout: false }),
      (s): CommandOutcome => {
        if (s.effect.kind === 'transfer') return { kind: 'transfer', id, transfer: s.effect.transfer, log: [issued] };
        const logout = s.effect.kind === 'logout';
        return { kind: 'reply', reply: simpleReply(id, 'ok', s.lines, s.data), log: logout ? [issued, `${session.username} exited`] : [issued], logout };
      },
    ),
  );
};

/** {@link dispatch} for a decoded request whose `cmd` is a forum command (its `username` field is ignored). */
export const dispatchRequest = (store: ForumStore, session: Session, request: Request & { readonly cmd: ForumCommand }): T.Task<CommandOutcome> =>
  dispatch(store, session, request.id, request.cmd, request.args);
