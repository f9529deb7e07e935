/**
 * Host name resolution for `connect`: every address of both families, as
 * `dns.lookup` (the resolver `net.connect` uses) orders them.
 */
import { type LookupAddress, type LookupAllOptions, lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { RudpError, abortError, fromSystemError } from './rudp-error.js';

/** A resolver with `dns.lookup`'s signature for `{ all: true }` (the `lookup` option of `connect`, as in `net.connect`). */
export type LookupFunction = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** One address to try. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Resolves `host` (literals at once); rejects with a `RudpError`
 * (`ENOTFOUND`, …, `ETIMEDOUT` if the resolver gives no answer within
 * `timeoutMs`, or `ABORT_ERR`). A resolver that throws or answers with
 * something other than a list of addresses is a failed lookup, not a crash.
 */
export function resolveHost(host: string, signal: AbortSignal | undefined, lookup: LookupFunction = dnsLookup, timeoutMs = Number.POSITIVE_INFINITY): Promise<readonly ResolvedAddress[]> {
  const literal = isIP(host);
  if (literal !== 0) return Promise.resolve([{ address: host, family: literal === 6 ? 6 : 4 }]);
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    // getaddrinfo cannot be cancelled: an abort (or the timeout) settles the promise and the late answer is ignored.
    const onAbort = (): void => finish(() => reject(abortError(signal as AbortSignal)));
    signal?.addEventListener('abort', onAbort, { once: true });
    // A resolver that never calls back (a user's lookup with a bug, a hung DNS proxy) must not hold connect past its own timeout.
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => finish(() => reject(new RudpError('ETIMEDOUT', `cannot resolve ${host}: no answer within ${timeoutMs} ms`, { syscall: 'getaddrinfo', hostname: host }))), timeoutMs);
    }
    const answered = (err: NodeJS.ErrnoException | null, addresses: unknown): void =>
      finish(() => {
        if (err) return reject(fromSystemError(err, 'ENOTFOUND', `cannot resolve ${host}`, { syscall: 'getaddrinfo', hostname: host }));
        const usable = Array.isArray(addresses) ? addresses.filter(isUsable) : [];
        if (usable.length === 0) return reject(new RudpError('ENOTFOUND', `cannot resolve ${host}: no addresses`, { syscall: 'getaddrinfo', hostname: host }));
        resolve(usable);
      });
    try {
      lookup(host, { all: true }, answered);
    } catch (e) {
      answered(e instanceof Error ? e : new Error(String(e)), undefined);
    }
  });
}

/** An address entry `connect` can use: a string address of family 4 or 6. */
function isUsable(a: unknown): a is ResolvedAddress {
  const entry = a as Partial<Record<keyof ResolvedAddress, unknown>> | null;
  return typeof entry === 'object' && entry !== null && typeof entry.address === 'string' && (entry.family === 4 || entry.family === 6);
}
