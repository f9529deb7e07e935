// File transfer: a client uploads a file with pipeline(); the server stores it and both check sha256.
// stream() turns a connection into a byte-stream Duplex: writes wait for 'drain', end() tells the peer.
// Run: node examples/file-transfer.mjs [file]     (without a file, 8 MiB of random bytes)
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connect, listen } from 'rudpx';

const dir = mkdtempSync(join(tmpdir(), 'rudp-example-'));
const source = process.argv[2] ?? join(dir, 'upload.bin');
if (!process.argv[2]) writeFileSync(source, randomBytes(8 * 1024 * 1024));
const target = join(dir, 'received.bin');
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

const server = await listen({ port: 0 });
const stored = new Promise((resolve, reject) => {
  server.on('connection', (conn) => {
    // Ends when the client ends its stream; the file is complete then.
    pipeline(conn.stream(), createWriteStream(target)).then(resolve, reject);
  });
});

const conn = await connect({ port: server.address().port });
const started = performance.now();
await pipeline(createReadStream(source), conn.stream()); // resolves once the server has every byte
await stored;
const seconds = (performance.now() - started) / 1000;
const bytes = statSync(target).size;
console.log(`sent ${bytes} bytes in ${seconds.toFixed(2)} s (${(bytes / seconds / 1e6).toFixed(1)} MB/s)`);
console.log(sha256(source) === sha256(target) ? 'sha256 match' : 'sha256 MISMATCH');
await conn.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
