import * as t from 'io-ts';
import { RequestCommand } from './commands.js';
import { MAX_ARG_BYTES, MAX_ARGS, MAX_CREDENTIAL_BYTES, MAX_ID_LENGTH, utf8Length } from './limits.js';

const bounded = (name: string, ok: (s: string) => boolean): t.Type<string, string, unknown> =>
  new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string' && ok(u),
    (u, c) => (typeof u === 'string' && ok(u) ? t.success(u) : t.failure(u, c)),
    t.identity,
  );

/** A request id: 1 to {@link MAX_ID_LENGTH} characters, chosen by the client, unique per session. */
export const RequestId = bounded(`RequestId(1..${MAX_ID_LENGTH} chars)`, (s) => s.length >= 1 && s.length <= MAX_ID_LENGTH);
/** The untrusted user name field of a request (the server uses the session's). */
export const UsernameField = bounded(`Username(<=${MAX_CREDENTIAL_BYTES} bytes)`, (s) => utf8Length(s) <= MAX_CREDENTIAL_BYTES);
/** One argument: at most {@link MAX_ARG_BYTES} UTF-8 bytes. */
export const Arg = bounded(`Arg(<=${MAX_ARG_BYTES} bytes)`, (s) => utf8Length(s) <= MAX_ARG_BYTES);

const Args = new t.Type<readonly string[], readonly string[], unknown>(
  `Args(<=${MAX_ARGS})`,
  (u): u is readonly string[] => Array.isArray(u) && u.length <= MAX_ARGS && u.every((a) => Arg.is(a)),
  (u, c) => {
    if (!Array.isArray(u) || u.length > MAX_ARGS) return t.failure(u, c);
    return t.readonlyArray(Arg).validate(u, c);
  },
  t.identity,
);

/** A client → server request. `id` lets the server recognise a repeat and answer it from its reply cache. */
export const Request = t.readonly(t.exact(t.type({ id: RequestId, username: UsernameField, cmd: RequestCommand, args: Args })), 'Request');
/** A client → server request. */
export type Request = t.TypeOf<typeof Request>;

/** What the client asks for next: a user name, a password, a new user's password, or a command. */
export const NextStep = t.keyof({ username: null, password: null, newPassword: null, command: null });
/** What the client asks for next. */
export type NextStep = t.TypeOf<typeof NextStep>;

/** The direction of a TCP file transfer, from the client's side. */
export const TransferDirection = t.keyof({ upload: null, download: null });
/** The direction of a TCP file transfer. */
export type TransferDirection = t.TypeOf<typeof TransferDirection>;

const Port = new t.Type<number, number, unknown>(
  'Port',
  (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 65535,
  (u, c) => (typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 65535 ? t.success(u) : t.failure(u, c)),
  t.identity,
);

/** The data a reply carries besides the lines to print. */
export const ReplyData = t.union([
  t.readonly(t.type({ kind: t.literal('none') })),
  /** A login step answered; `next` says which prompt the client shows. */
  t.readonly(
    t.intersection([
      t.type({ kind: t.literal('auth'), next: NextStep }),
      /**
       * `fault`: the step was not done for a fault of the server (its database out of reach, too slow):
       * the same answers may succeed later. A client reading its answers from a script retries them
       * rather than read the script's next line (the password) as a username.
       */
      t.partial({ fault: t.literal(true) }),
    ]),
  ),
  /**
   * LST answered: `count` threads, listed in the reply's `lines` after its first. The titles are not
   * repeated here: a long list sent twice was twice as close to the reply size limit.
   */
  t.readonly(t.type({ kind: t.literal('threadList'), count: t.number })),
  /** RDT answered: thread `title` has `count` lines, the reply's `lines` (none: `lines` says it is empty). */
  t.readonly(t.type({ kind: t.literal('threadLines'), title: t.string, count: t.number })),
  /**
   * Open TCP to the server's host at `port`, send `token`, then the bytes
   * (upload) or read them (download, `size` bytes). Print `completionLine`
   * when the transfer has finished.
   */
  t.readonly(
    t.type({
      kind: t.literal('transfer'),
      direction: TransferDirection,
      thread: t.string,
      filename: t.string,
      port: Port,
      token: t.string,
      size: t.union([t.number, t.null]),
      completionLine: t.string,
    }),
  ),
  /** The session is over (XIT); the client exits. */
  t.readonly(t.type({ kind: t.literal('goodbye') })),
]);
/** The data a reply carries. */
export type ReplyData = t.TypeOf<typeof ReplyData>;

/** A reply's status: `error` when the command was refused. */
export const ReplyStatus = t.keyof({ ok: null, error: null });
/** A reply's status. */
export type ReplyStatus = t.TypeOf<typeof ReplyStatus>;

/** A server → client reply to the request with the same `id`; the client prints `lines`, one a line. */
export const Reply = t.readonly(
  t.type({ type: t.literal('reply'), id: t.string, status: ReplyStatus, lines: t.readonlyArray(t.string), data: ReplyData }),
  'Reply',
);
/** A server → client reply. */
export type Reply = t.TypeOf<typeof Reply>;

/** A server → client push not tied to a request: the session was ended for inactivity. The client prints `text` and exits. */
export const IdleTimeoutNotice = t.readonly(
  t.type({ type: t.literal('notice'), kind: t.literal('idleTimeout'), text: t.string, idleSeconds: t.number }),
  'IdleTimeoutNotice',
);
/** The idle-timeout push. */
export type IdleTimeoutNotice = t.TypeOf<typeof IdleTimeoutNotice>;

/** A server → client push: the server is stopping (SIGINT/SIGTERM) and closes every session. The client prints `text` and exits. */
export const ShutdownNotice = t.readonly(t.type({ type: t.literal('notice'), kind: t.literal('shutdown'), text: t.string }), 'ShutdownNotice');
/** The shutdown push. */
export type ShutdownNotice = t.TypeOf<typeof ShutdownNotice>;

/** A server → client push not tied to a request; each ends the session. */
export const Notice = t.union([IdleTimeoutNotice, ShutdownNotice], 'Notice');
/** A server → client push. */
export type Notice = t.TypeOf<typeof Notice>;

/** Anything the server sends over rudp. */
export const ServerMessage = t.union([Reply, Notice], 'ServerMessage');
/** Anything the server sends over rudp. */
export type ServerMessage = t.TypeOf<typeof ServerMessage>;

/** The idle-timeout notice, `Session timed out after N seconds of inactivity` (`1 second` when N is 1). */
export const idleTimeoutNotice = (idleSeconds: number): IdleTimeoutNotice => ({
  type: 'notice',
  kind: 'idleTimeout',
  text: `Session timed out after ${idleSeconds} ${idleSeconds === 1 ? 'second' : 'seconds'} of inactivity`,
  idleSeconds,
});

/** The shutdown notice, `The server is shutting down`. */
export const shutdownNotice = (): ShutdownNotice => ({ type: 'notice', kind: 'shutdown', text: 'The server is shutting down' });

/** The prompt the client prints for each next step (exact strings, trailing space included). */
export const PROMPTS: Readonly<Record<NextStep, string>> = {
  username: 'Enter username: ',
  password: 'Enter password: ',
  newPassword: 'New user, enter password: ',
  command: 'Enter one of the following commands: CRT, MSG, DLT, EDT, LST, RDT, UPD, DWN, RMV, XIT: ',
};
