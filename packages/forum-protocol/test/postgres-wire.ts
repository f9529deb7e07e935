/** A frontend message's type, and for Parse, Bind and Query the statement name and text it names. */
export interface FrontendMessage {
  readonly type: string;
  readonly statement: string;
  readonly query: string;
}

/** The messages of `chunk` (a client's bytes to PostgreSQL after the startup; postgres.js writes whole messages). */
export const frontendMessages = (chunk: Buffer): FrontendMessage[] => {
  const out: FrontendMessage[] = [];
  let at = 0;
  while (at + 5 <= chunk.length) {
    const type = String.fromCharCode(chunk[at] as number);
    const end = at + 1 + chunk.readUInt32BE(at + 1);
    const body = chunk.subarray(at + 5, Math.min(end, chunk.length)).toString('latin1').split('\0');
    // Parse: statement, query; Bind: portal, statement; Query: query.
    if (type === 'P') out.push({ type, statement: body[0] ?? '', query: body[1] ?? '' });
    else if (type === 'B') out.push({ type, statement: body[1] ?? '', query: '' });
    else out.push({ type, statement: '', query: type === 'Q' ? (body[0] ?? '') : '' });
    at = end;
  }
  return out;
};

/**
 * Tells, message by message of one connection, whether a message runs `commit`: as a query, a Parse, or a
 * Bind of a statement prepared as `commit` earlier on the connection (postgres.js prepares it once a
 * connection, then binds it by name).
 */
export const commitSpotter = (): ((m: FrontendMessage) => boolean) => {
  const names = new Set<string>();
  return (m) => {
    const isCommitText = m.query.trim().toLowerCase() === 'commit';
    if (m.type === 'P' && isCommitText && m.statement !== '') names.add(m.statement);
    return ((m.type === 'P' || m.type === 'Q') && isCommitText) || (m.type === 'B' && names.has(m.statement));
  };
};
