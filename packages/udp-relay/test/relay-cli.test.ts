import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RELAY_USAGE, parseRelayArgs, runRelayCli } from '../src/index.js';

describe('parseRelayArgs', () => {
  it('parses every option', () => {
    const r = parseRelayArgs(
      '--listen 4000 --target 127.0.0.1:5000 --loss 0.2 --dup 0.05 --reorder 0.05 --delay 35 --jitter 5 --burst 3 --seed 9'.split(' '),
    );
    expect(r).toEqual({
      ok: true,
      value: {
        kind: 'run',
        options: {
          listenHost: '127.0.0.1',
          listenPort: 4000,
          targetHost: '127.0.0.1',
          targetPort: 5000,
          seed: 9,
          loss: 0.2,
          duplicate: 0.05,
          reorder: 0.05,
          delayMs: 35,
          jitterMs: 5,
          burst: { meanBurstLength: 3 },
        },
      },
    });
  });

  it('parses the reordering, bottleneck and jitter-mode options', () => {
    const r = parseRelayArgs(
      '--target 127.0.0.1:5000 --delay 5 --jitter 5 --jitter-mode independent --reorder 0.1 --reorder-hold 25 --bandwidth 50000000 --queue 65536'.split(' '),
    );
    expect(r.ok && r.value.kind === 'run' && r.value.options).toMatchObject({
      delayMs: 5,
      jitterMs: 5,
      jitterMode: 'independent',
      reorder: 0.1,
      reorderHoldMs: 25,
      bandwidthBps: 50_000_000,
      queueBytes: 65_536,
    });
    const bad = (argv: string): string => {
      const x = parseRelayArgs(['--target', 'h:1', ...argv.split(' ')]);
      return x.ok ? 'parsed' : x.error;
    };
    expect(bad('--jitter-mode random')).toMatch(/--jitter-mode must be 'fifo' or 'independent'/);
    expect(bad('--reorder-hold -1')).toMatch(/--reorder-hold/);
    expect(bad('--queue 1000')).toMatch(/--queue needs --bandwidth/);
  });

  it('defaults to an ephemeral loopback port, seed 1 and no impairment', () => {
    const r = parseRelayArgs(['--target', '[::1]:7']);
    expect(r.ok && r.value.kind === 'run' && r.value.options).toMatchObject({
      listenHost: '127.0.0.1',
      listenPort: 0,
      targetHost: '::1',
      targetPort: 7,
      seed: 1,
      loss: 0,
    });
    expect(parseRelayArgs(['--listen', '0.0.0.0:9', '--target', 'h:1'])).toMatchObject({
      ok: true,
      value: { options: { listenHost: '0.0.0.0', listenPort: 9 } },
    });
  });

  it('returns readable errors for bad arguments', () => {
    const error = (argv: string): string => {
      const r = parseRelayArgs(argv.split(' ').filter(Boolean));
      return r.ok ? 'parsed' : r.error;
    };
    expect(error('')).toMatch(/--target/);
    expect(error('--target nowhere')).toMatch(/HOST:PORT/);
    expect(error('--target h:1 --loss 2')).toMatch(/--loss must be a number in \[0, 1\]/);
    expect(error('--target h:1 --delay -3')).toMatch(/--delay/);
    expect(error('--target h:1 --listen 70000')).toMatch(/--listen/);
    expect(error('--target h:1 --jitter abc')).toMatch(/--jitter/);
    expect(error('--target h:1 --bogus 1')).toMatch(/bogus/);
    expect(error('--target h:1 extra')).toMatch(/extra/);
    expect(parseRelayArgs(['--help'])).toEqual({ ok: true, value: { kind: 'help' } });
  });
});

describe('runRelayCli', () => {
  const capture = (signal?: AbortSignal) => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { print: (l: string) => out.push(l), printError: (l: string) => err.push(l), ...(signal ? { signal } : {}) } };
  };

  it('prints usage and returns 2 on bad arguments, 0 on --help', async () => {
    const saved = process.exitCode;
    try {
      const bad = capture();
      expect(await runRelayCli(['--loss', 'x'], bad.io)).toBe(2);
      expect(bad.err).toContain(RELAY_USAGE);
      expect(process.exitCode).toBe(2);
      const help = capture();
      expect(await runRelayCli(['--help'], help.io)).toBe(0);
      expect(help.out).toEqual([RELAY_USAGE]);
    } finally {
      process.exitCode = saved;
    }
  });

  it('relays until stopped', async () => {
    const saved = process.exitCode;
    const server = dgram.createSocket('udp4');
    server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    const target = (server.address() as AddressInfo).port;
    const stop = new AbortController();
    const cli = capture(stop.signal);
    try {
      const running = runRelayCli(['--target', `127.0.0.1:${target}`, '--delay', '1', '--seed', '3'], cli.io);
      const deadline = Date.now() + 5000;
      while (cli.out.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const m = /^relay listening on 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:(\d+)$/.exec(cli.out[0] ?? '');
      expect(m?.[2]).toBe(String(target));
      const echoed = new Promise<string>((r) => client.once('message', (msg) => r(msg.toString())));
      client.send('hello', Number(m?.[1]), '127.0.0.1');
      expect(await echoed).toBe('hello');
      stop.abort();
      expect(await running).toBe(0);
      expect(cli.out.at(-1)).toMatch(/^relay stopped: client->server 1 in, 1 out; server->client 1 in, 1 out$/);
    } finally {
      process.exitCode = saved;
      await Promise.all([server, client].map((s) => new Promise<void>((r) => s.close(() => r()))));
    }
  });
});

describe('README', () => {
  it("shows the command's usage line as the command prints it", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Command\n\n```\n([\s\S]*?)\n```/.exec(readme)?.[1] ?? '';
    expect(block.replace(/\s+/g, ' ')).toBe(RELAY_USAGE.replace(/^usage: /, ''));
  });
});
