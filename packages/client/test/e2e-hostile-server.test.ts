/**
 * The real forum-client (piped, as a script runs it) against a fake server that is hostile or
 * broken (attack round 11, attack/README-11.md): what it prints, how it exits, what it leaves.
 */
import { shutdownNotice, simpleReply } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient, tempDir } from '../../server/test/forum-processes.js';
import { startFakeServer } from './fake-forum-server.js';

describe('forum-client against a hostile or broken server (real client process, fake server)', () => {
  const { dirs, closers } = cleanupAfterEach();
  const cwd = async (): Promise<string> => {
    const dir = await tempDir('hostile-server');
    dirs.push(dir);
    return dir;
  };

  it('a long answer read through a pipe arrives whole, and the Goodbye after it', async () => {
    // 200,000 lines (2.9 MB): far more than a pipe holds. process.exit dropped what was still queued:
    // 4,412 lines reached the reader, and no Goodbye.
    const LINES = 200_000;
    const server = await startFakeServer((req) => [simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => `${i + 1} mallory: m`), { kind: 'threadLines', title: 't', count: LINES })]);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'RDT t']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((l) => / mallory: m$/.test(l))).toHaveLength(LINES);
    expect(run.stdout).toMatch(/Goodbye\n$/);
  });

  it('so does one followed by the shutdown notice (the exit of a fatal event)', async () => {
    const LINES = 200_000;
    // The notice answers the next command: sent with the long answer, it would overtake it (rudp delivers whole messages as they complete).
    const server = await startFakeServer((req) =>
      req.cmd === 'RDT' ? [simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => `${i + 1} mallory: m`), { kind: 'threadLines', title: 't', count: LINES })] : [shutdownNotice()],
    );
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'RDT t', 'LST']);
    expect(run.code).toBe(4);
    expect(run.stdout.split('\n').filter((l) => / mallory: m$/.test(l))).toHaveLength(LINES);
    expect(run.stdout).toMatch(/The server is shutting down\n$/);
  });
});
