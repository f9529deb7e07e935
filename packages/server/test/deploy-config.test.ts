import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, renderNginxConfig } from '../../../deploy/nginx-config.mjs';
import { findNginx } from '../../../scripts/cluster.mjs';

const shipped = fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url));

describe('deploy/nginx.conf', () => {
  it('is what deploy/nginx-config.mjs renders (regenerate with `node deploy/nginx-config.mjs > deploy/nginx.conf`)', () => {
    expect(readFileSync(shipped, 'utf8')).toBe(renderNginxConfig(EXAMPLE));
  });

  it('balances UDP and TCP by client address, consistently, over the same servers', () => {
    const text = readFileSync(shipped, 'utf8');
    expect(text.match(/hash \$remote_addr consistent;/g)).toHaveLength(2);
    expect(text).toMatch(/listen 127\.0\.0\.1:4000 udp;/);
    expect(text).toMatch(/listen 127\.0\.0\.1:4000;/);
    expect(text).toMatch(/^load_module .*ngx_stream_module\.so;$/m);
    for (const port of [4001, 4002, 4003]) expect(text.match(new RegExp(`server 127\\.0\\.0\\.1:${port} `, 'g'))).toHaveLength(2);
  });

  it.skipIf(findNginx() === undefined && process.env.CI !== 'true')('passes nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-nginx-t-'));
    try {
      // The shipped paths (pid, log) need root; the test checks the same text with its own paths.
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, renderNginxConfig({ ...EXAMPLE, pidFile: join(dir, 'pid'), errorLog: join(dir, 'error.log') }));
      const r = spawnSync(findNginx() ?? 'nginx', ['-t', '-p', dir, '-c', conf, '-e', 'stderr'], { encoding: 'utf8' });
      expect(r.stderr).toContain('syntax is ok');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
