import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { postgresIoError } from '../src/postgres-store/postgres-timeouts.js';
import { ioErrorText } from '../src/store/errors.js';

/** A PostgreSQL error as postgres.js raises it from the server's ErrorResponse. */
const pgError = (code: string, message: string): postgres.PostgresError =>
  new (postgres.PostgresError as unknown as new (x: { readonly code: string; readonly message: string }) => postgres.PostgresError)({ code, message });

describe('the log names why the database ended or refused a connection, by SQLSTATE', () => {
  it('57P01 (pg_terminate_backend, a fast shutdown): ended, the client told so', () => {
    const e = postgresIoError(pgError('57P01', 'terminating connection due to administrator command'));
    expect(e.message).toBe("the database ended the server's connection (pg_terminate_backend, a shutdown): terminating connection due to administrator command");
    expect(ioErrorText(e, 'command')).toBe("The server's database closed its connection, so the command was cancelled: please try again");
  });

  it('57P02 (another backend crashed): ended by the crash, not by an administrator', () => {
    const e = postgresIoError(pgError('57P02', 'terminating connection because of crash of another server process'));
    expect(e.message).toBe(
      "the database ended the server's connection (another of its processes crashed: it restarts): terminating connection because of crash of another server process",
    );
    expect(e.interrupted).toBe('terminated');
  });

  it('57P03 (the database starting up): refused, not blamed on pg_terminate_backend or a shutdown', () => {
    // Before: "the database ended the server's connection (pg_terminate_backend, a shutdown): the database system is starting up".
    const e = postgresIoError(pgError('57P03', 'the database system is starting up'));
    expect(e.message).toBe('the database refused the connection (it is starting up, shutting down or recovering): the database system is starting up');
    // No connection was ended: the plain line, which asks for a retry.
    expect(ioErrorText(e, 'command')).toBe('The server could not complete the command, please try again');
  });
});
