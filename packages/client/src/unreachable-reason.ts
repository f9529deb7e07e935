import { RudpError } from 'rudpx';

/**
 * What follows `Unable to reach the server at H:P` when the connection failed: the server's own refusal (a
 * connection limit), or what the machine said: a host name that does not resolve, a port with nothing on it.
 * Before, both read as a server that did not answer, and a mistyped `--host` or port could not be told from
 * a server that is down (attack round 19). A silent address (`ETIMEDOUT`) adds nothing: the line says it, unless
 * something did answer (the transport's `CloseReason.note`).
 */
export const unreachableReason = (e: unknown, host: string, port: number): string => {
  if (!(e instanceof RudpError)) return '';
  if (e.reason?.kind === 'refused') return `: ${e.reason.message}`;
  // Something answered but the handshake did not complete (a RETRY and no ACCEPT, or ACCEPTs that failed to
  // authenticate: the path lost or altered them, or an attacker on it forged them): said, where a bare line
  // sent the user to look for a server that is down.
  if (e.reason?.kind === 'unreachable' && e.reason.note !== undefined) return `: the handshake did not complete within --timeout: ${e.reason.note}`;
  // A closed port on a reachable host answers with ICMP port unreachable; a refused handshake is the case above.
  if (e.code === 'ECONNREFUSED') return `: nothing listens on UDP port ${port} there (port unreachable): is the server running, on that port?`;
  // dns.lookup's codes (ENOTFOUND: no such name; EAI_AGAIN: the name server did not answer, try again).
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'EAI_FAIL' || e.code === 'EAI_NONAME') {
    return `: the host name ${host} does not resolve (getaddrinfo ${e.code})`;
  }
  return '';
};
