#!/usr/bin/env node
// Builds the optional OpenSSL packet cipher (native/openssl-aead.c) into
// dist/openssl-aead-<platform>-<arch>.node with the system's C compiler and the headers Node
// installs beside itself (<prefix>/include/node: N-API and OpenSSL's). The
// addon links nothing: the running node binary provides OpenSSL's symbols.
//
// It is optional, so a machine without a compiler or headers gets a notice
// and exit code 0: rudp then seals packets with libsodium or node:crypto.
// RUDP_REQUIRE_NATIVE=1 makes any failure an error instead, and any compiler
// warning too (CI and `npm pack` set it, so a lost fast path is noticed).
// Symbols are bound when the addon loads (-z now), so a runtime that does not
// export OpenSSL's refuses to load it, and rudp falls back, instead of
// failing at the first call.
//
// Usage: node scripts/build-native.mjs [--if-missing] [--require]   (run by
// `pnpm build`; --if-missing: only if the addon is absent or older than its
// source; --require: as RUDP_REQUIRE_NATIVE=1, for `npm pack`)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const source = join(pkgDir, 'native', 'openssl-aead.c');
const out = join(pkgDir, 'dist', `openssl-aead-${process.platform}-${process.arch}.node`);
const include = join(dirname(process.execPath), '..', 'include', 'node');
const required = process.env.RUDP_REQUIRE_NATIVE === '1' || process.argv.includes('--require');

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

if (process.argv.includes('--if-missing') && existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
if (process.platform === 'win32') skip('no build recipe for Windows');
for (const header of ['node_api.h', join('openssl', 'evp.h')]) {
  if (!existsSync(join(include, header))) skip(`no ${header} under ${include}`);
}
// CC may carry words of its own ("ccache gcc").
const [cc = 'cc', ...ccArgs] = (process.env.CC ?? 'cc').split(/\s+/).filter((w) => w !== '');
// Undefined symbols are resolved against the node binary, all of them when the addon loads.
const platformFlags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup', '-Wl,-bind_at_load'] : ['-Wl,-z,now'];
const warnings = ['-Wall', '-Wextra', ...(required ? ['-Werror'] : [])];
mkdirSync(dirname(out), { recursive: true });
const result = spawnSync(cc, [...ccArgs, '-shared', '-fPIC', '-O2', ...warnings, '-std=c11', ...platformFlags, '-I', include, '-o', out, source], { encoding: 'utf8' });
if (result.error !== undefined) skip(`${cc}: ${result.error.message}`);
if (result.status !== 0) skip(`${cc} exited with ${result.status}:\n${result.stderr}`);
console.log(`rudpx: built ${out}`);
