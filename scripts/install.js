#!/usr/bin/env node
// npm's install step for the rrnative package: builds the native addon against the LibTorch it finds (or takes it
// from the build cache) — src/install/addon.ts. Never runs apt and never fails for want of a LibTorch: it then
// prints what to do, and the first call that needs the addon throws the same words. In a development checkout
// (src/ present) it does nothing: scripts/setup.sh builds there.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const compiled = path.join(root, 'dist', 'src', 'install', 'addon.js');
if (fs.existsSync(path.join(root, 'src', 'native.ts')) || !fs.existsSync(compiled)) process.exit(0);
if (process.env.RRNATIVE_SKIP_BUILD) {
  console.log('rrnative: RRNATIVE_SKIP_BUILD is set: the native addon was not built (run `npx rrtrain setup` to build it)');
  process.exit(0);
}

const { buildAddon } = require(compiled);
buildAddon(root).then((outcome) => {
  if (outcome.status === 'skipped') console.warn(`\n${outcome.reason}\n`);
}, (err) => {
  console.error(`\nrrnative: ${err.message}\n\nFix the cause above, then run \`npx rrtrain setup\` to build again.`);
  process.exit(1);
});
