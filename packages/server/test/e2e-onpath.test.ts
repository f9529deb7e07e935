/**
 * An on-path observer between real forum-client and forum-server processes
 * (issue 14, "Tests"): a UDP relay the client talks to, recording every
 * datagram both ways, and a TCP relay in front of the transfer port,
 * recording every byte. The server listens on 127.0.0.2 and the relays on
 * 127.0.0.1, the TCP one on the very port number the server advertises, so
 * the client's own transfer code goes through it unchanged.
 */
import dgram from 'node:dgram';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { answered, cleanup, P, seededBytes, spawnClient, startServer, tempDir, type ServerProc } from './forum-processes.js';

/** Where the server really listens; the relays take 127.0.0.1. */
const SERVER_HOST = '127.0.0.2';
const EXIT_HOST_KEY = 5;

/** One datagram the UDP relay forwarded. */
interface Seen {
  /** The client's address and port at the relay. */
  readonly client: string;
  readonly direction: 'up' | 'down';
  readonly data: Buffer;
}

interface UdpRelay {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/** A UDP relay on 127.0.0.1 forwarding to `host:port`, one upstream socket per client, recording every datagram. */
const startUdpRelay = async (host: string, port: number): Promise<UdpRelay> => {
  const front = dgram.createSocket('udp4');
  const upstreams = new Map<string, dgram.Socket>();
  const seen: Seen[] = [];
  front.on('message', (msg, from) => {
    const client = `${from.address}:${from.port}`;
    let up = upstreams.get(client);
    if (up === undefined) {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (reply) => {
        seen.push({ client, direction: 'down', data: Buffer.from(reply) });
        front.send(reply, from.port, from.address);
      });
      socket.on('error', () => undefined);
      socket.bind(0, '127.0.0.1');
      upstreams.set(client, socket);
      up = socket;
    }
    seen.push({ client, direction: 'up', data: Buffer.from(msg) });
    up.send(msg, port, host);
  });
  front.on('error', () => undefined);
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port,
    seen,
    close: () => Promise.all([...upstreams.values(), front].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
};

interface TcpRelay {
  /** Every byte forwarded, per direction. */
  readonly up: Buffer[];
  readonly down: Buffer[];
  close(): Promise<void>;
}

/** A TCP relay listening on 127.0.0.1:`port` and forwarding to `host:port`, recording every byte. */
const startTcpRelay = async (host: string, port: number): Promise<TcpRelay> => {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const pump = (from: net.Socket, to: net.Socket, log: Buffer[]): void => {
    from.on('data', (chunk: Buffer) => {
      log.push(Buffer.from(chunk));
      to.write(chunk);
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
    from.on('error', () => undefined);
  };
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port, host, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    pump(client, upstream, up);
    pump(upstream, client, down);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    up,
    down,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

/** Runs forum-client on the relay's port with `input`, until it exits. */
const runThrough = async (port: number, cwd: string, knownHosts: string, input: readonly string[]) => {
  const c = spawnClient(port, cwd, ['--known-hosts', knownHosts]);
  c.child.stdin?.end(input.map((l) => `${l}\n`).join(''));
  const code = await c.exited;
  return { code, stdout: c.stdout.text, stderr: c.stderr.text };
};

/** The packet type of a datagram (rudp: low three bits of byte 0); 4, 5, 6 carry requests and replies. */
const typeOf = (d: Buffer): number => (d[0] ?? 0) & 0x07;
const DATA_TYPES: readonly number[] = [4, 5, 6];

describe('an on-path observer sees no secret (real processes through UDP and TCP relays)', () => {
  const dirs: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
    await cleanup(...dirs.splice(0));
  });

  it('password, message text and file content never cross in clear; a changed server key is refused before any request', { timeout: 60_000 }, async () => {
    const root = await tempDir('onpath');
    dirs.push(root);
    const [data, up, down, other] = ['data', 'up', 'down', 'other'].map((d) => join(root, d)) as [string, string, string, string];
    await Promise.all([data, up, down, other].map((d) => mkdir(d)));
    const server: ServerProc = await startServer(data, ['--host', SERVER_HOST]);
    closers.push(() => server.stop());
    const udp = await startUdpRelay(SERVER_HOST, server.port);
    closers.push(() => udp.close());
    const tcp = await startTcpRelay(SERVER_HOST, server.tcpPort);
    closers.push(() => tcp.close());

    const password = 'Pw-7fK2q-Zebra-Lantern';
    const message = 'the eagle lands at midnight behind the old mill 9c4e';
    const marker = Buffer.from('TOP-SECRET-FILE-CONTENT-3b8d');
    const content = Buffer.concat([marker, seededBytes(150_000, 14), marker]);
    await writeFile(join(up, 'plans.bin'), content);
    const knownHosts = join(root, 'known_hosts');

    // A session through the relays: new account, a message, an upload; then another that reads and downloads.
    const first = await runThrough(udp.port, up, knownHosts, ['mole', password, 'CRT ops', `MSG ops ${message}`, 'UPD ops plans.bin', 'XIT']);
    expect(first.stdout).toBe(
      P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread ops created'], ['Message posted to ops thread'], ['plans.bin uploaded to ops thread'], ['Goodbye']),
    );
    expect(first.code).toBe(0);
    const second = await runThrough(udp.port, down, knownHosts, ['mole', password, 'RDT ops', 'DWN ops plans.bin', 'XIT']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(message);
    expect(second.stdout).toContain('plans.bin successfully downloaded');
    expect(Buffer.compare(await readFile(join(down, 'plans.bin')), content)).toBe(0);

    // The relays carried it all: both sessions' datagrams, and the file up and down over TCP.
    const upBytes = Buffer.concat(tcp.up);
    const downBytes = Buffer.concat(tcp.down);
    expect(upBytes.length).toBeGreaterThan(content.length);
    expect(downBytes.length).toBeGreaterThan(content.length);
    expect(new Set(udp.seen.map((s) => s.client)).size).toBe(2);
    expect(udp.seen.filter((s) => DATA_TYPES.includes(typeOf(s.data))).length).toBeGreaterThan(10);

    // Nothing the observer recorded holds a secret: not any datagram, not the streams of datagrams run together, not the TCP bytes.
    const secrets = [Buffer.from(password), Buffer.from(message), marker, content.subarray(5_000, 5_048), content.subarray(120_000, 120_048)];
    const haystacks = [
      ...udp.seen.map((s) => s.data),
      Buffer.concat(udp.seen.filter((s) => s.direction === 'up').map((s) => s.data)),
      Buffer.concat(udp.seen.filter((s) => s.direction === 'down').map((s) => s.data)),
      upBytes,
      downBytes,
    ];
    for (const secret of secrets) expect(haystacks.filter((h) => h.includes(secret)).length, secret.subarray(0, 24).toString('latin1')).toBe(0);

    // The known-hosts file now pins the server's key for the relay's address; replace it with another key.
    const pinned = await readFile(knownHosts, 'utf8');
    const line = new RegExp(`^127\\.0\\.0\\.1:${udp.port} x25519 ([0-9a-f]{64})$`, 'm').exec(pinned);
    expect(line).not.toBeNull();
    const realKey = line?.[1] ?? '';
    const otherKey = `${realKey.slice(0, 63)}${realKey[63] === '0' ? '1' : '0'}`;
    const changedHosts = join(root, 'known_hosts_changed');
    await writeFile(changedHosts, pinned.replace(realKey, otherKey), { mode: 0o600 });

    const seenBefore = udp.seen.length;
    const refused = await runThrough(udp.port, other, changedHosts, ['mole', password, 'LST', 'XIT']);
    expect(refused.code).toBe(EXIT_HOST_KEY);
    expect(refused.stderr).toContain(`WARNING: the server at 127.0.0.1:${udp.port} presented a different identity key than the one recorded in ${changedHosts}.`);
    expect(refused.stderr).toContain('Nothing was sent; the connection is closed.');
    // No prompt was ever shown, so no username or password was read, let alone sent.
    expect(refused.stdout).toBe('');
    // The relay saw that client's handshake (and the server's refusal), and no request or reply packet at all.
    const third = udp.seen.slice(seenBefore);
    expect(new Set(third.map((s) => s.client)).size).toBe(1);
    expect(third.filter((s) => s.direction === 'up').length).toBeGreaterThan(0);
    expect(third.filter((s) => DATA_TYPES.includes(typeOf(s.data)))).toEqual([]);
    expect(third.filter((s) => s.direction === 'up').every((s) => typeOf(s.data) === 1)).toBe(true);
    // And the file on disk still pins the other key: a refusal records nothing.
    expect(await readFile(changedHosts, 'utf8')).toContain(otherKey);
    expect(server.child.exitCode).toBeNull();
  });
});
