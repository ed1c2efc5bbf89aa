#!/usr/bin/env bash
# Fills the git-ignored carry folder that scripts/bench/gpu.sh needs on a GPU machine without Node or a
# network: Node itself, the runtime npm packages (linux-x64 binaries only), the compiled TypeScript (dist/,
# tests included, for the CUDA checks) and the peers (the HF fixtures travel with the tree). Run from the repo root on a developer
# machine after `npm ci` and `npx tsc -p .`:
#   bash scripts/bench/gpu-carry.sh [.carry]
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=${1:-.carry}
SHARED=${RR_SHARED:-../shared}
[ -d node_modules ] || { echo "gpu-carry.sh: run npm ci first" >&2; exit 1; }
[ -f dist/scripts/bench/gpu.js ] || { echo "gpu-carry.sh: compile first (npx tsc -p . && node scripts/esm-wrapper.js)" >&2; exit 1; }
mkdir -p "$CARRY"
NODE_BIN=$(command -v node)
if [ ! -f "$CARRY/node.xz" ] || [ "$NODE_BIN" -nt "$CARRY/node.xz" ]; then xz -T2 -c "$NODE_BIN" > "$CARRY/node.xz"; fi
# Runtime packages: the production dependency tree without the build tool (cmake-js: gpu.sh runs CMake
# itself) and with tokenizers' linux-x64-gnu binary only, as one xz tarball (JavaScript packs ~8x).
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
npm ls --omit=dev --all --long --json 2>/dev/null | node -e '
  const tree = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const keep = new Set();
  const walk = (deps) => { for (const [name, d] of Object.entries(deps || {})) {
    if (name === "cmake-js" || !d.path || keep.has(d.path)) continue;
    keep.add(d.path); walk(d.dependencies);
  } };
  walk(tree.dependencies);
  for (const p of keep) console.log(require("path").relative(process.cwd(), p));' | while read -r rel; do
  mkdir -p "$STAGE/$(dirname "$rel")"
  [ -e "$STAGE/$rel" ] || cp -r "$rel" "$STAGE/$rel"
done
find "$STAGE/node_modules/tokenizers" -name '*.node' ! -name tokenizers.linux-x64-gnu.node -delete
# usearch: its linux-x64 prebuild only (the sources it ships, for building elsewhere, stay behind).
if [ -d "$STAGE/node_modules/usearch" ]; then
  find "$STAGE/node_modules/usearch/prebuilds" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
  rm -rf "$STAGE/node_modules/usearch/numkong" "$STAGE/node_modules/usearch/include"
fi
rm -rf "$CARRY/node_modules"
tar -C "$STAGE" -cf - node_modules | xz -T2 -9 > "$CARRY/node_modules.tar.xz"
rm -rf "$CARRY/dist" && cp -r dist "$CARRY/dist"
rm -rf "$CARRY/peers" "$CARRY/fixtures"
cp -r "$SHARED/peers" "$CARRY/peers"  # the fixtures travel with the working tree (test/fixtures/hf)
du -sh "$CARRY"/*; du -sh "$CARRY"
