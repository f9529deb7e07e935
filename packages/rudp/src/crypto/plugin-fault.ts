/**
 * What a plug-in the application supplies threw: a `CryptoProvider` (and the
 * keys it made) or a congestion controller. The transport calls them from
 * inside its own work (a packet arriving, a poll, a timer), where a throw
 * would leave a connection half updated and, in the Node adapter, escape a
 * socket or timer callback and end the process (attack round 31). So each
 * call into a plug-in turns a throw into this class, and the connection that
 * made the call ends for it (`Connection`), as a `destroy()` would: only that
 * connection, and the peer is told where the goodbye can still be sealed.
 * A throw of any other class is a bug of rudp's own and still propagates.
 */

/** Which kind of plug-in threw. */
export type PluginKind = 'crypto provider' | 'congestion controller';

/** A plug-in threw; `cause` is what it threw. */
export class PluginFault extends Error {
  constructor(
    /** Which kind of plug-in. */
    readonly plugin: PluginKind,
    /** The method it threw in. */
    readonly method: string,
    cause: unknown,
  ) {
    // The message names the plug-in and method but not what it threw: it is sent to the peer in the CLOSE.
    super(`the ${plugin} threw in ${method}`, { cause });
    this.name = 'PluginFault';
  }
}
