// pnpm hooks of this workspace. Loaded by every pnpm command here; only `beforePacking` is defined.
// Any change to this file, a comment too, changes the checksum pnpm-lock.yaml records (pnpmfileChecksum):
// run `npx --yes pnpm@10.34.8 install --lockfile-only` after editing it, or frozen installs (CI) fail
// with ERR_PNPM_LOCKFILE_CONFIG_MISMATCH.

/** Scripts an installed package still runs: npm and pnpm run these in the consumer's install. */
const INSTALL_SCRIPTS = new Set(['preinstall', 'install', 'postinstall']);

/**
 * `pnpm pack` / `pnpm publish`: the published package.json keeps only install scripts.
 * The others (`build`, `typecheck`) build and check from the source tree and the workspace's
 * devDependencies (tsup, tsc, tsconfig.json, src/), none of which the tarball holds: a user
 * running them got "tsup: not found". pnpm already leaves out its pack and publish hooks (prepack, …).
 */
function beforePacking(pkg) {
  if (pkg.scripts === undefined) return pkg;
  const kept = Object.fromEntries(Object.entries(pkg.scripts).filter(([name]) => INSTALL_SCRIPTS.has(name)));
  const { scripts: _dropped, ...rest } = pkg;
  return Object.keys(kept).length > 0 ? { ...rest, scripts: kept } : rest;
}

module.exports = { hooks: { beforePacking } };
