import * as t from 'io-ts';

/** The forum commands a logged-in user types (case-sensitive words). */
export const ForumCommand = t.keyof({
  CRT: null,
  MSG: null,
  DLT: null,
  EDT: null,
  LST: null,
  RDT: null,
  UPD: null,
  DWN: null,
  RMV: null,
  XIT: null,
});
/** A forum command word. */
export type ForumCommand = t.TypeOf<typeof ForumCommand>;

/** The login steps: the user name, the password of a known user, the password of a new user. */
export const AuthCommand = t.keyof({ username: null, password: null, newPassword: null });
/** A login step. */
export type AuthCommand = t.TypeOf<typeof AuthCommand>;

/** Every `cmd` a request may carry: the login steps and the forum commands. */
export const RequestCommand = t.keyof({ ...AuthCommand.keys, ...ForumCommand.keys });
/** A request's `cmd`. */
export type RequestCommand = t.TypeOf<typeof RequestCommand>;

/** The forum command words in the order the prompt lists them. */
export const FORUM_COMMANDS: readonly ForumCommand[] = ['CRT', 'MSG', 'DLT', 'EDT', 'LST', 'RDT', 'UPD', 'DWN', 'RMV', 'XIT'];

/** True when `cmd` is a forum command rather than a login step. */
export const isForumCommand = (cmd: RequestCommand): cmd is ForumCommand => ForumCommand.is(cmd);
