import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { answered, cleanup, P, runClient, seededBytes, startServer, tempDir, type ServerProc } from './forum-processes.js';

const MIB = 1024 * 1024;
const SIZE_MIB = 100;

const sha256File = async (path: string): Promise<string> => {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
};

describe('UPD/DWN of a large file (real processes, loopback TCP)', () => {
  const dirs: string[] = [];
  let server: ServerProc | undefined;
  afterEach(async () => {
    await server?.stop();
    await cleanup(...dirs.splice(0));
  });

  it(`streams ${SIZE_MIB} MiB of seeded random bytes up and down unchanged`, { timeout: 120_000 }, async () => {
    const data = await tempDir('data');
    const up = await tempDir('up');
    const down = await tempDir('down');
    dirs.push(data, up, down);
    const hash = createHash('sha256');
    const file = await open(join(up, 'big.bin'), 'w');
    for (let i = 0; i < SIZE_MIB; i++) {
      const chunk = seededBytes(MIB, 1000 + i);
      hash.update(chunk);
      await file.write(chunk);
    }
    await file.close();
    const expected = hash.digest('hex');

    server = await startServer(data);
    const u = await runClient(server.port, up, ['yoda', 'pw', 'CRT big', 'UPD big big.bin', 'XIT']);
    expect(u.stdout).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread big created'], ['big.bin uploaded to big thread'], ['Goodbye']));
    expect((await stat(join(data, 'big-big.bin'))).size).toBe(SIZE_MIB * MIB);
    expect(await sha256File(join(data, 'big-big.bin'))).toBe(expected);

    const d = await runClient(server.port, down, ['yoda', 'pw', 'DWN big big.bin', 'XIT']);
    expect(d.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['big.bin successfully downloaded'], ['Goodbye']));
    expect(await readdir(down)).toEqual(['big.bin']);
    expect(await sha256File(join(down, 'big.bin'))).toBe(expected);
  });
});
