#!/usr/bin/env node
// Builds rudp's optional native addons into dist/<name>-<platform>-<arch>.node with the
// system's C compiler and the headers Node installs beside itself (<prefix>/include/node:
// N-API, libuv's and OpenSSL's). The addons link nothing: the running node binary provides
// every symbol they use.
// - openssl-aead (native/openssl-aead.c): packets sealed by the OpenSSL inside Node;
//   without it, libsodium or node:crypto seal them.
// - udp-batch (native/udp-batch.c, Linux only: recvmmsg/sendmmsg): datagrams moved in
//   batches; without it, node:dgram moves them one by one.
//
// They are optional, so a machine without a compiler or headers gets a notice and exit
// code 0. RUDP_REQUIRE_NATIVE=1 makes any failure an error instead, and any compiler
// warning too (CI and `npm pack` set it, so a lost fast path is noticed). Symbols are
// bound when an addon loads (-z now), so a runtime that does not export them refuses to
// load it, and rudp falls back, instead of failing at the first call.
//
// Usage: node scripts/build-native.mjs [--if-missing] [--require]   (run by `pnpm build`;
// --if-missing: only addons that are absent or older than their source; --require: as
// RUDP_REQUIRE_NATIVE=1, for `npm pack`)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const include = join(dirname(process.execPath), '..', 'include', 'node');
const required = process.env.RUDP_REQUIRE_NATIVE === '1' || process.argv.includes('--require');
const ifMissing = process.argv.includes('--if-missing');

const addons = [
  { name: 'openssl-aead', headers: ['node_api.h', join('openssl', 'evp.h')], platforms: ['linux', 'darwin', 'freebsd'], fallback: 'packets will be sealed with libsodium or node:crypto' },
  { name: 'udp-batch', headers: ['node_api.h', 'uv.h'], platforms: ['linux'], fallback: 'datagrams will move through node:dgram one by one' },
];

let failed = false;
for (const addon of addons) {
  const source = join(pkgDir, 'native', `${addon.name}.c`);
  const out = join(pkgDir, 'dist', `${addon.name}-${process.platform}-${process.arch}.node`);
  /** Explains why the addon was not built; fatal (at the end) only when it is required. */
  const skip = (why) => {
    const message = `rudpx: ${addon.name} was not built (${why}); ${addon.fallback}.`;
    if (required) {
      console.error(`${message}\nRUDP_REQUIRE_NATIVE=1: failing.`);
      failed = true;
    } else console.log(message);
  };
  if (ifMissing && existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) continue;
  // Not built where it cannot work: a platform outside the list is not a failure, even when required.
  if (!addon.platforms.includes(process.platform)) {
    console.log(`rudpx: ${addon.name} is not built on ${process.platform}; ${addon.fallback}.`);
    continue;
  }
  const missing = addon.headers.find((header) => !existsSync(join(include, header)));
  if (missing !== undefined) {
    skip(`no ${missing} under ${include}`);
    continue;
  }
  // CC may carry words of its own ("ccache gcc").
  const [cc = 'cc', ...ccArgs] = (process.env.CC ?? 'cc').split(/\s+/).filter((w) => w !== '');
  // Undefined symbols are resolved against the node binary, all of them when the addon loads.
  const platformFlags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup', '-Wl,-bind_at_load'] : ['-Wl,-z,now'];
  const warnings = ['-Wall', '-Wextra', ...(required ? ['-Werror'] : [])];
  mkdirSync(dirname(out), { recursive: true });
  const result = spawnSync(cc, [...ccArgs, '-shared', '-fPIC', '-O2', ...warnings, '-std=c11', ...platformFlags, '-I', include, '-o', out, source], { encoding: 'utf8' });
  if (result.error !== undefined) skip(`${cc}: ${result.error.message}`);
  else if (result.status !== 0) skip(`${cc} exited with ${result.status}:\n${result.stderr}`);
  else console.log(`rudpx: built ${out}`);
}
if (failed) process.exit(1);
