// Run first by `prepack`: refuses to pack or publish rudpx with anything but pnpm.
// The workspace's .pnpmfile.cjs drops the scripts a user cannot run from the published
// package.json (build and typecheck need the source tree); npm does not load that hook,
// so `npm pack` / `npm publish` would ship them.
const agent = process.env.npm_config_user_agent ?? '';
if (!agent.startsWith('pnpm/')) {
  console.error(`rudpx: pack and publish with pnpm (npx --yes pnpm@10.34.8 publish), not ${agent.split(' ')[0] || 'this tool'}: its .pnpmfile.cjs hook drops the build scripts from the published package.json`);
  process.exit(1);
}
