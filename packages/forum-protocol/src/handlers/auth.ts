import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { isForumCommand } from '../protocol/commands.js';
import { accountsFullText, ioErrorText, toIoError, type StoreError } from '../store/errors.js';
import { dispatch, simpleReply, type CommandOutcome } from './handlers.js';
import type { NextStep, Reply, Request } from '../protocol/messages.js';
import { validateCredential } from '../protocol/names.js';
import { parsePasswordHash, plainPasswordsEqual, verifyPasswordHash } from './password-hash.js';
import { accountCreationThrottledText, checksThrottledText, throttledText, type ThrottleCause } from '../limits/rate-limit.js';
import type { Session, SessionRegistry } from '../store/session.js';
import type { Account, ForumStore } from '../store/store.js';
import { originOfAddress } from '../store/origin-shares.js';

/** Where one connection is in the login state machine. */
export type AuthState =
  | { readonly step: 'awaitingUsername' }
  | { readonly step: 'awaitingPassword'; readonly username: string }
  | { readonly step: 'awaitingNewPassword'; readonly username: string }
  | { readonly step: 'authenticated'; readonly session: Session }
  /** After XIT; the server closes the connection. */
  | { readonly step: 'closed' };

/** `account` with the origin of the address it is created from (origin-shares.ts), if that is known. */
export const withOrigin = (account: Account, attempt: LoginAttempt): Account => {
  const origin = originOfAddress(attempt.peerAddress);
  return origin === undefined ? account : { ...account, origin };
};

/** The state of a connection that has just been opened. */
export const INITIAL_AUTH_STATE: AuthState = { step: 'awaitingUsername' };

/** Where and when a password attempt comes from, for throttling. */
export interface LoginAttempt {
  /** The peer's (handshake-validated) address, `host:port`; `undefined` if unknown. */
  readonly peerAddress: string | undefined;
  /** Milliseconds (any epoch, e.g. `Date.now()` or a test clock). */
  readonly now: number;
}

/** The answer to a password check. `throttled` means it was not checked at all (`cause` defaults to `failures`). */
export type PasswordVerdict = 'ok' | 'wrong' | 'unknown' | { readonly kind: 'throttled'; readonly retryAfterMs: number; readonly cause?: ThrottleCause };

/** The answer to an account creation: `taken` if the name was taken meanwhile; `throttled` means nothing was created. */
export type RegisterVerdict = 'created' | 'taken' | { readonly kind: 'throttled'; readonly retryAfterMs: number };

/**
 * How accounts are checked and created: the seam for password hashing
 * ({@link hashedAccounts}) and login throttling ({@link rateLimitedAccounts}).
 * The default, {@link plainTextAccounts}, compares and stores passwords as the
 * spec's `credentials.txt` holds them.
 */
export interface AccountPolicy {
  /** `unknown` when there is no such account. */
  verify(store: ForumStore, username: string, password: string, attempt: LoginAttempt): TE.TaskEither<StoreError, PasswordVerdict>;
  /** Creates the account (see {@link RegisterVerdict}). */
  register(store: ForumStore, username: string, password: string, attempt: LoginAttempt): TE.TaskEither<StoreError, RegisterVerdict>;
}

/**
 * Plain-text passwords, as forum-spec.md's `credentials.txt` stores them.
 * An entry already hashed (by a server that ran with `--hash-passwords`) is
 * still checked against its hash, so switching back locks nobody out.
 */
export const plainTextAccounts: AccountPolicy = {
  verify: (store, username, password) =>
    pipe(
      store.getAccount(username),
      TE.chain(
        O.match(
          () => TE.right<StoreError, PasswordVerdict>('unknown'),
          (a) => {
            const hashed = parsePasswordHash(a.password);
            if (hashed === undefined) return TE.right(plainPasswordsEqual(password, a.password) ? 'ok' : 'wrong');
            return TE.tryCatch(async () => ((await verifyPasswordHash(password, hashed)) ? 'ok' : 'wrong'), toIoError);
          },
        ),
      ),
    ),
  register: (store, username, password, attempt) =>
    TE.map((ok: boolean): RegisterVerdict => (ok ? 'created' : 'taken'))(store.createAccount(withOrigin({ username, password }, attempt))),
};

/** What the login machine needs: the store, the registry of live sessions, and this connection's key. */
export interface AuthDeps {
  readonly store: ForumStore;
  readonly registry: SessionRegistry;
  readonly connectionKey: string;
  /** Defaults to {@link plainTextAccounts}. */
  readonly accounts?: AccountPolicy;
  /** The peer's validated address (`host:port`), for per-host login throttling. */
  readonly peerAddress?: string;
  /** The time of this request, ms; defaults to `Date.now()`. Throttling windows are measured on it. */
  readonly now?: number;
}

/** The next state, the reply to send, and the server log lines to print. */
export interface AuthResult {
  readonly state: AuthState;
  readonly reply: Reply;
  readonly log: readonly string[];
  /** The password was checked and was wrong (unlike the other refusals: the account or host throttled, already logged in). */
  readonly passwordRejected?: true;
}

const authReply = (id: string, status: Reply['status'], lines: readonly string[], next: NextStep, fault?: true): Reply =>
  simpleReply(id, status, lines, fault === undefined ? { kind: 'auth', next } : { kind: 'auth', next, fault });

const nextOf = (state: AuthState): NextStep => {
  switch (state.step) {
    case 'awaitingUsername':
    case 'closed':
      return 'username';
    case 'awaitingPassword':
      return 'password';
    case 'awaitingNewPassword':
      return 'newPassword';
    case 'authenticated':
      return 'command';
  }
};

const serverError = (id: string, e: StoreError): AuthResult => ({
  state: INITIAL_AUTH_STATE,
  // Marked a fault: a client whose answers come from a script tries them again, not its next line as a username.
  reply: authReply(id, 'error', [e.kind === 'io' ? ioErrorText(e, 'login') : 'The server could not complete the login, please try again'], 'username', true),
  log: [`Store error: ${e.kind === 'io' ? e.message : e.kind}`],
});

/** Whether another connection holds `username` now (one live session per account). */
const heldElsewhere = async (deps: AuthDeps, username: string): Promise<E.Either<StoreError, boolean>> =>
  E.map((h: string | undefined) => h !== undefined && h !== deps.connectionKey)(await deps.registry.holder(username)());

const loggedIn = async (deps: AuthDeps, id: string, username: string, log: readonly string[]): Promise<AuthResult> => {
  const acquired = await deps.registry.tryAcquire(username, deps.connectionKey)();
  if (E.isLeft(acquired)) return serverError(id, acquired.left);
  return acquired.right
    ? { state: { step: 'authenticated', session: { username, connectionKey: deps.connectionKey } }, reply: authReply(id, 'ok', ['Welcome to the forum'], 'command'), log }
    : { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [`${username} has already logged in`], 'username'), log: [] };
};

/**
 * One step of the login state machine. A `username` request (re)starts a
 * login from any unauthenticated state; `password` / `newPassword` answer the
 * matching prompt; anything else is refused with the prompt to show again.
 *
 * Replies: `Welcome to the forum`, `Invalid password`, `U has already logged in`
 * (at the username step, and at the password step before the password is checked),
 * `Too many failed login attempts, try again in N seconds`,
 * `Too many login attempts, try again in N seconds` (checks of any outcome),
 * `Too many new accounts from your address, try again in N seconds`,
 * `The forum is full: it has at most N accounts, so no new account can be made`
 * (with `data.next` telling the client which prompt to print). Log lines:
 * `Client authenticating`, `Incorrect password`, `Login of U throttled`, `New user`,
 * `U successfully logged in` (new account), `U successful login` (existing account),
 * `Account creation of U throttled`, `Account creation of U refused: the forum has its most accounts`.
 */
export const handleAuth =
  (deps: AuthDeps, state: AuthState, request: Request): T.Task<AuthResult> =>
  async () => {
    const accounts = deps.accounts ?? plainTextAccounts;
    const id = request.id;
    const value = request.args[0] ?? '';
    const refuse = (text: string): AuthResult => ({ state, reply: authReply(id, 'error', [text], nextOf(state)), log: [] });

    if (state.step === 'authenticated') return refuse('Already logged in');
    if (state.step === 'closed') return { state, reply: simpleReply(id, 'error', ['Session closed'], { kind: 'goodbye' }), log: [] };
    if (request.args.length !== 1 && !isForumCommand(request.cmd)) return refuse(`Incorrect syntax for ${request.cmd}`);

    switch (request.cmd) {
      case 'username': {
        const log = ['Client authenticating'];
        const valid = validateCredential('username', value);
        if (E.isLeft(valid)) return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [valid.left], 'username'), log };
        const held = await heldElsewhere(deps, value);
        if (E.isLeft(held)) return serverError(id, held.left);
        if (held.right) {
          return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [`${value} has already logged in`], 'username'), log };
        }
        const account = await deps.store.getAccount(value)();
        if (E.isLeft(account)) return serverError(id, account.left);
        // One identity per name: `Alice` may not become a second account beside `alice`.
        const similar = O.isNone(account.right) ? deps.store.similarAccount?.(value) : undefined;
        if (similar !== undefined) {
          const text = `Invalid username: ${value} is the same name as the existing user ${similar} (names differing only in letter case are one name)`;
          return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [text], 'username'), log };
        }
        // A malformed credentials line of this name: refused, not made anew (the first caller's password would own it).
        const damagedLine = O.isNone(account.right) ? deps.store.damagedAccount?.(value) : undefined;
        if (damagedLine !== undefined) {
          const text = `The account ${value} cannot be used until the server's operator mends its line in credentials.txt`;
          return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [text], 'username'), log: [...log, `Login of ${value} refused: credentials.txt line ${damagedLine}, skipped as malformed, may be its account`] };
        }
        return O.isSome(account.right)
          ? { state: { step: 'awaitingPassword', username: value }, reply: authReply(id, 'ok', [], 'password'), log }
          : { state: { step: 'awaitingNewPassword', username: value }, reply: authReply(id, 'ok', [], 'newPassword'), log };
      }
      case 'password': {
        if (state.step !== 'awaitingPassword') return refuse('Unexpected password');
        // Asked again: the account may have logged in since the username step, and a login that
        // tryAcquire would refuse must not pay for a (scrypt) password check first.
        const held = await heldElsewhere(deps, state.username);
        if (E.isLeft(held)) return serverError(id, held.left);
        if (held.right) return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [`${state.username} has already logged in`], 'username'), log: [] };
        const verdict = await accounts.verify(deps.store, state.username, value, { peerAddress: deps.peerAddress, now: deps.now ?? Date.now() })();
        if (E.isLeft(verdict)) return serverError(id, verdict.left);
        if (typeof verdict.right === 'object') {
          return {
            state: INITIAL_AUTH_STATE,
            reply: authReply(id, 'error', [(verdict.right.cause === 'checks' ? checksThrottledText : throttledText)(verdict.right.retryAfterMs)], 'username'),
            log: [`Login of ${state.username} throttled`],
          };
        }
        if (verdict.right !== 'ok') {
          return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', ['Invalid password'], 'username'), log: ['Incorrect password'], passwordRejected: true };
        }
        return loggedIn(deps, id, state.username, [`${state.username} successful login`]);
      }
      case 'newPassword': {
        if (state.step !== 'awaitingNewPassword') return refuse('Unexpected password');
        const valid = validateCredential('password', value);
        if (E.isLeft(valid)) return refuse(valid.left);
        const created = await accounts.register(deps.store, state.username, value, { peerAddress: deps.peerAddress, now: deps.now ?? Date.now() })();
        if (E.isLeft(created) && created.left.kind === 'accountsFull') {
          return {
            state: INITIAL_AUTH_STATE,
            reply: authReply(id, 'error', [accountsFullText(created.left.limit)], 'username'),
            log: [`Account creation of ${state.username} refused: the forum has its most accounts`],
          };
        }
        if (E.isLeft(created)) return serverError(id, created.left);
        if (typeof created.right === 'object') {
          return {
            state: INITIAL_AUTH_STATE,
            reply: authReply(id, 'error', [accountCreationThrottledText(created.right.retryAfterMs)], 'username'),
            log: [`Account creation of ${state.username} throttled`],
          };
        }
        if (created.right === 'taken') {
          return { state: INITIAL_AUTH_STATE, reply: authReply(id, 'error', [`User ${state.username} was just registered by another client, please log in`], 'username'), log: [] };
        }
        return loggedIn(deps, id, state.username, ['New user', `${state.username} successfully logged in`]);
      }
      default:
        return refuse('Please log in first');
    }
  };

/** A connection's state after a request, and what to do about the request. */
export interface RequestResult {
  readonly state: AuthState;
  /** `reply` for login steps, or the forum command's outcome. */
  readonly outcome: CommandOutcome;
  /** A login step whose password was checked and wrong: the client starts the login again. */
  readonly passwordRejected?: true;
}

/**
 * The whole server-side request path for one connection: login steps go to
 * {@link handleAuth}, forum commands of an authenticated connection to
 * {@link dispatch} with the session's user; XIT releases the session and
 * moves to `closed`. Never rejects: an unexpected failure becomes an error reply.
 */
export const handleRequest =
  (deps: AuthDeps, state: AuthState, request: Request): T.Task<RequestResult> =>
  async () => {
    try {
      if (state.step === 'authenticated' && isForumCommand(request.cmd)) {
        const outcome = await dispatch(deps.store, state.session, request.id, request.cmd, request.args)();
        if (outcome.kind === 'reply' && outcome.logout) {
          await deps.registry.release(state.session.username, state.session.connectionKey)();
          return { state: { step: 'closed' }, outcome };
        }
        return { state, outcome };
      }
      const result = await handleAuth(deps, state, request)();
      const outcome: CommandOutcome = { kind: 'reply', reply: result.reply, log: result.log, logout: false };
      return result.passwordRejected === true ? { state: result.state, outcome, passwordRejected: true } : { state: result.state, outcome };
    } catch (e) {
      return {
        state,
        outcome: {
          kind: 'reply',
          reply: simpleReply(request.id, 'error', ['The server could not complete the command, please try again']),
          log: [`Store error: ${toIoError(e).message}`],
          logout: false,
        },
      };
    }
  };

/**
 * Ends a connection that went away or idled out: frees its account in the
 * registry. Resolves to the log lines (`U exited` if someone was logged in).
 */
export const endConnection =
  (registry: SessionRegistry, state: AuthState): T.Task<readonly string[]> =>
  async () => {
    if (state.step !== 'authenticated') return [];
    await registry.release(state.session.username, state.session.connectionKey)();
    return [`${state.session.username} exited`];
  };
