/**
 * Attack round 11, (A) a hostile server's replies: the real forum-client (piped) against a fake
 * server that answers `LST` in one of these ways, then `XIT` normally.
 *
 *   npx tsx attack/hostile-replies.ts silent       # never answers LST
 *   npx tsx attack/hostile-replies.ts slow         # answers every request 7 s late (the limit is 8 s)
 *   npx tsx attack/hostile-replies.ts oversize     # a 9 MiB reply (the decoder's limit is 8 MiB)
 *   npx tsx attack/hostile-replies.ts malformed    # not JSON, then JSON of the wrong shape
 *   npx tsx attack/hostile-replies.ts flood [n=100] # n unrequested 7.9 MiB replies, then the answer
 *   npx tsx attack/hostile-replies.ts huge-lines   # 7.9 MiB of lines (8 bytes each) as the LST answer
 *   npx tsx attack/hostile-replies.ts wrong-kind   # LST → a download grant, CRT → a password prompt, RDT → goodbye
 *   npx tsx attack/hostile-replies.ts never-ending # a reply line that is one 7.9 MiB word
 *
 * Prints the client's exit status, time, peak RSS, raw control characters and its last lines.
 */
import { simpleReply, type ServerMessage } from '../packages/forum-protocol/dist/index.js';
import { fakeServer, grant, login, runClient, summary } from './hostile-server-lib.js';

const mode = process.argv[2] ?? 'silent';
const n = Number(process.argv[3] ?? 100);
const BIG = 8 * 1024 * 1024 - 64 * 1024;
const enc = new TextEncoder();
const lastLines = (s: string): string => JSON.stringify(s.split('\n').slice(-4).join(' | ').slice(-400));

const lstAnswer = (id: string): ServerMessage | readonly (ServerMessage | Uint8Array)[] | undefined => {
  switch (mode) {
    case 'silent':
      return undefined;
    case 'oversize':
      return [enc.encode(JSON.stringify(simpleReply(id, 'ok', ['x'.repeat(9 * 1024 * 1024)], { kind: 'none' })))];
    case 'malformed':
      return [enc.encode('{"type":"reply","id":"' + id + '", not json'), enc.encode(JSON.stringify({ type: 'reply', id, status: 'ok', lines: 'not an array', data: { kind: 'none' } }))];
    case 'huge-lines':
      return simpleReply(id, 'ok', Array.from({ length: BIG / 12 }, (_, i) => String(i % 100000).padStart(5, '0')), { kind: 'none' });
    case 'never-ending':
      return simpleReply(id, 'ok', ['w'.repeat(BIG)], { kind: 'none' });
    default:
      return simpleReply(id, 'ok', ['The list of active threads:', 't'], { kind: 'none' });
  }
};

const server = await fakeServer(async (req, tcpPort) => {
  if (mode === 'slow') await new Promise((r) => setTimeout(r, 7000));
  const l = login(req);
  if (l !== undefined) {
    if (mode === 'flood' && req.cmd === 'password') {
      // Replies to ids the client never used (it counts from 1), each just under the decoder's limit.
      const junk = enc.encode(JSON.stringify(simpleReply('999999', 'ok', ['j'.repeat(BIG)], { kind: 'none' })));
      return [l, ...Array.from({ length: n }, () => junk)];
    }
    return l;
  }
  if (mode === 'wrong-kind') {
    if (req.cmd === 'LST') return grant(req, tcpPort, 'download');
    if (req.cmd === 'CRT') return simpleReply(req.id, 'ok', ['Enter password again'], { kind: 'auth', next: 'password' });
    if (req.cmd === 'RDT') return simpleReply(req.id, 'ok', ['bye now'], { kind: 'goodbye' });
  }
  if (req.cmd === 'LST') return lstAnswer(req.id);
  return simpleReply(req.id, 'ok', ['ok'], { kind: 'none' });
});

const input = mode === 'wrong-kind' ? ['yoda', 'pw', 'LST', 'CRT t', 'pw2', 'RDT t', 'LST'] : ['yoda', 'pw', 'LST', 'XIT'];
const run = await runClient(server.port, input, mode === 'flood' ? 120 : 60);
console.log(summary(mode, run));
console.log(`[${mode}] stdout ${run.stdout.length} chars, last lines: ${lastLines(run.stdout)}`);
console.log(`[${mode}] stderr: ${lastLines(run.stderr)}`);
await server.close();
process.exit(0);
