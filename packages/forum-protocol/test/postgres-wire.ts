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

/**
 * Tells, chunk by chunk of one connection's bytes from PostgreSQL (from its first), whether a chunk holds a
 * ReadyForQuery saying the connection is idle: its transaction ended, so a COMMIT, or a statement run on its
 * own (committed as it ended), has been answered. Messages split across chunks are put back together.
 */
export const idleSpotter = (): ((chunk: Buffer) => boolean) => {
  let carry: Buffer = Buffer.alloc(0);
  return (chunk) => {
    const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let at = 0;
    let idle = false;
    while (at + 5 <= bytes.length) {
      const end = at + 1 + bytes.readUInt32BE(at + 1);
      if (end > bytes.length) break;
      // 'Z', then the transaction status: 'I' idle, 'T' in a transaction, 'E' in a failed one.
      if (bytes[at] === 0x5a && bytes[at + 5] === 0x49) idle = true;
      at = end;
    }
    carry = bytes.subarray(at);
    return idle;
  };
};
