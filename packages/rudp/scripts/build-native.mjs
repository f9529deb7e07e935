#!/usr/bin/env node
// Builds the optional OpenSSL packet cipher (native/openssl-aead.c) into
// dist/openssl-aead.node with the system's C compiler and the headers Node
// installs beside itself (<prefix>/include/node: N-API and OpenSSL's). The
// addon links nothing: the running node binary provides OpenSSL's symbols.
//
// It is optional, so a machine without a compiler or headers gets a notice
// and exit code 0: rudp then seals packets with libsodium or node:crypto.
// RUDP_REQUIRE_NATIVE=1 makes any failure an error instead (CI sets it, so a
// lost fast path is noticed).
//
// Usage: node scripts/build-native.mjs   (run by `pnpm build` after tsup)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const source = join(pkgDir, 'native', 'openssl-aead.c');
const out = join(pkgDir, 'dist', 'openssl-aead.node');
const include = join(dirname(process.execPath), '..', 'include', 'node');
const required = process.env.RUDP_REQUIRE_NATIVE === '1';

/** Explains why the addon was not built; fatal only when it is required. */
const skip = (why) => {
  const message = `rudpx: the OpenSSL packet cipher was not built (${why}); packets will be sealed with libsodium or node:crypto.`;
  if (required) {
    console.error(`${message}\nRUDP_REQUIRE_NATIVE=1: failing.`);
    process.exit(1);
  }
  console.log(message);
  process.exit(0);
};

if (process.platform === 'win32') skip('no build recipe for Windows');
for (const header of ['node_api.h', join('openssl', 'evp.h')]) {
  if (!existsSync(join(include, header))) skip(`no ${header} under ${include}`);
}
const cc = process.env.CC ?? 'cc';
// Undefined symbols are resolved against the node binary when the addon loads (macOS must be told so).
const platformFlags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
mkdirSync(dirname(out), { recursive: true });
const result = spawnSync(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-std=c11', ...platformFlags, '-I', include, '-o', out, source], { encoding: 'utf8' });
if (result.error !== undefined) skip(`${cc}: ${result.error.message}`);
if (result.status !== 0) skip(`${cc} exited with ${result.status}:\n${result.stderr}`);
console.log(`rudpx: built ${out}`);
