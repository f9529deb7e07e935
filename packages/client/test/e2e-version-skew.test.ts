/**
 * A client and server of different releases (attack round 20), as the real binaries on loopback: their rudp
 * protocol versions differ, so they cannot connect. Before, each dropped the other's packets and forum-client
 * waited its whole --timeout (30 s with `--timeout 30`), then said `Unable to reach the server at H:P`, as for
 * a server that is down. Now a server answers another version's INITIAL with the versions it speaks, and the
 * client says so at once. Also here: a handshake that heard something and still timed out says what it heard.
 */
import dgram from 'node:dgram';
import { crc32c, decodeInitial, decodeVersionPacket, encodeRetry, encodeVersionPacket, MAX_DATAGRAM, PacketType, parseHeader, PROTOCOL_VERSION } from 'rudpx/core';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient } from '../../server/test/forum-processes.js';

/** An INITIAL as a client of protocol `version` sends one (the layout every version keeps): client id `cid`, padded, checksummed. */
const initialOfVersion = (version: number, cid: number): Buffer => {
  const d = Buffer.alloc(MAX_DATAGRAM);
  d[0] = (version << 4) | PacketType.Initial;
  d.writeUInt32BE(cid, 7);
  d.writeUInt32BE(crc32c(d, 0, d.length - 4), d.length - 4);
  return d;
};

describe('forum-client and forum-server of different protocol versions', () => {
  const scope = cleanupAfterEach();

  /** A UDP socket on loopback in the server's place, closed after the test; `answer` gets each datagram. */
  const fakeServer = async (answer: (socket: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo) => void): Promise<dgram.Socket> => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    scope.closers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    socket.on('message', (msg, from) => answer(socket, msg, from));
    return socket;
  };

  it('a client whose server speaks another version says so at once (exit 1), not that the server is unreachable', async () => {
    const { cwd } = await scope.startInTemp();
    // A server of the next version: it answers every INITIAL of ours with its own version, as this release's does.
    const other = await fakeServer((socket, msg, from) => {
      if (msg.length >= MAX_DATAGRAM && (msg[0] as number) >> 4 === PROTOCOL_VERSION) socket.send(encodeVersionPacket(msg.readUInt32BE(7), [PROTOCOL_VERSION + 1]), from.port, from.address);
    });
    const port = other.address().port;
    // Timed from the client's first datagram, not from the spawn: a loaded machine took up to 6.9 s to start a client.
    const connecting = new Promise<number>((resolve) => other.once('message', () => resolve(performance.now())));
    const r = await runClient(port, cwd, ['yoda', 'pw', 'XIT'], ['--timeout', '30']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `Unable to reach the server at 127.0.0.1:${port}: the server at 127.0.0.1:${port} refused the connection: it speaks rudp protocol version ${PROTOCOL_VERSION + 1}, this client version ${PROTOCOL_VERSION} (another release: use a client and server of one protocol version) (unauthenticated, sent in clear before the handshake)\n`,
    );
    // One round trip, not the 30 s timeout.
    expect(performance.now() - (await connecting)).toBeLessThan(10_000);
  });

  it('a handshake that heard a RETRY and no ACCEPT says so at its timeout (exit 1), not a bare "Unable to reach"', async () => {
    const { cwd } = await scope.startInTemp();
    // What an attacker on the path who forges the first RETRY leaves the client (or a path that loses every
    // answer to the cookie INITIALs): a RETRY with a cookie no server made, then nothing.
    const forger = await fakeServer((socket, msg, from) => {
      const h = parseHeader(msg);
      const init = typeof h !== 'string' && h.type === PacketType.Initial ? decodeInitial(h.payload) : undefined;
      if (init !== undefined && init.token.length === 0) socket.send(encodeRetry(new Uint8Array(MAX_DATAGRAM), init.scid, new Uint8Array(32).fill(0xee)), from.port, from.address);
    });
    const port = forger.address().port;
    const r = await runClient(port, cwd, ['yoda', 'pw', 'XIT'], ['--timeout', '2']);
    expect(r.code).toBe(1);
    // Before: `Unable to reach the server at 127.0.0.1:P` alone (the note reached rudpx users only).
    expect(r.stderr).toMatch(
      /^Unable to reach the server at 127\.0\.0\.1:\d+: the handshake did not complete within --timeout: a RETRY came, but no ACCEPT for any of the \d+ INITIALs? that carried its cookie back \(lost or altered on the path, or the RETRY was forged\)\n$/,
    );
  });

  it("forum-server answers an older client's INITIAL with the version it speaks", async () => {
    const { server } = await scope.startInTemp();
    const old = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => old.bind(0, '127.0.0.1', () => resolve()));
    scope.closers.push(() => new Promise<void>((resolve) => old.close(() => resolve())));
    const answer = new Promise<Buffer>((resolve) => old.once('message', (msg) => resolve(msg)));
    old.send(initialOfVersion(PROTOCOL_VERSION - 1, 0x1234abcd), server.port, '127.0.0.1');
    // Raced against a bound: a server that drops the INITIAL (as before) fails here, not at the test's timeout.
    const got = await Promise.race([answer, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000))]);
    expect(got).toBeDefined();
    expect(decodeVersionPacket(got as Buffer)).toEqual({ clientCid: 0x1234abcd, versions: [PROTOCOL_VERSION] });
  });
});
