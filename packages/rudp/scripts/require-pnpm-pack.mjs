// Run first by `prepack`: refuses to pack or publish rudpx with anything but pnpm.
// The workspace's .pnpmfile.cjs drops the scripts a user cannot run from the published
// package.json (build and typecheck need the source tree); npm does not load that hook,
// so `npm pack` / `npm publish` would ship them. Told by the CLI that runs this script
// (npm_execpath), not by npm_config_user_agent: npm run under pnpm (`pnpm test`, a
// release script) inherits pnpm's user agent as its own config and passes it on.
import { basename } from 'node:path';

const runner = basename(process.env.npm_execpath ?? '');
if (!/^pnpm(\.c?js|\.exe)?$/.test(runner)) {
  console.error(`rudpx: pack and publish with pnpm (npx --yes pnpm@10.34.8 publish), not ${runner || 'this tool'}: its .pnpmfile.cjs hook drops the build scripts from the published package.json`);
  process.exit(1);
}
