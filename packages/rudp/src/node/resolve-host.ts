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

/** Resolves `host` (literals at once); rejects with a `RudpError` (`ENOTFOUND`, …, or `ABORT_ERR`). */
export function resolveHost(host: string, signal: AbortSignal | undefined, lookup: LookupFunction = dnsLookup): Promise<readonly ResolvedAddress[]> {
  const literal = isIP(host);
  if (literal !== 0) return Promise.resolve([{ address: host, family: literal === 6 ? 6 : 4 }]);
  return new Promise((resolve, reject) => {
    // getaddrinfo cannot be cancelled: an abort settles the promise and the late answer is ignored.
    const onAbort = (): void => reject(abortError(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    lookup(host, { all: true }, (err, addresses) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) return reject(fromSystemError(err, 'ENOTFOUND', `cannot resolve ${host}`, { syscall: 'getaddrinfo', hostname: host }));
      const usable = addresses.filter((a): a is { address: string; family: 4 | 6 } => a.family === 4 || a.family === 6);
      if (usable.length === 0) {
        return reject(new RudpError('ENOTFOUND', `cannot resolve ${host}: no addresses`, { syscall: 'getaddrinfo', hostname: host }));
      }
      resolve(usable);
    });
  });
}
