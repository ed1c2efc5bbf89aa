#!/usr/bin/env bash
# Installs and builds whatever is missing, so `npm test` and `npm run quickstart` work on a fresh machine:
# LibTorch (Debian's libtorch-dev + OpenBLAS when no other LibTorch is found), npm packages, the addon, the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*"; }

have_torch() {
  [ -n "${LIBTORCH:-}" ] && [ -d "$LIBTORCH" ] && return 0
  python3 -c 'import torch' >/dev/null 2>&1 && return 0
  local f
  for f in /usr/lib/*/cmake/Torch/TorchConfig.cmake /usr/local/lib/cmake/Torch/TorchConfig.cmake; do
    [ -f "$f" ] && return 0
  done
  return 1
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup] cannot install $* : no apt-get. Install LibTorch yourself and set LIBTORCH=/path/to/libtorch." >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "apt-get install $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing_pkgs=()
command -v cmake >/dev/null 2>&1 || missing_pkgs+=(cmake)
command -v g++ >/dev/null 2>&1 || missing_pkgs+=(g++)
# Debian's LibTorch has torch.distributed (c10d) but not the Gloo headers that data-parallel training builds
# against: libgloo-dev (pip's torch and the libtorch zips bundle them).
if ! have_torch; then
  missing_pkgs+=(libtorch-dev libopenblas0-pthread libgloo-dev)
elif [ -z "${LIBTORCH:-}" ] && ! python3 -c 'import torch' >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  # Debian's LibTorch without the threaded OpenBLAS falls back to the slow reference BLAS.
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 || missing_pkgs+=(libopenblas0-pthread)
  dpkg -s libgloo-dev >/dev/null 2>&1 || missing_pkgs+=(libgloo-dev)
fi
[ ${#missing_pkgs[@]} -gt 0 ] && apt_install "${missing_pkgs[@]}"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

addon=build/Release/rrnative.node
# A build configured before the Gloo headers arrived has no torch.distributed: configure it again.
if [ -f build/CMakeCache.txt ] && grep -q '^RR_DISTRIBUTED:INTERNAL=none$' build/CMakeCache.txt \
   && [ -n "$(find /usr/include/gloo/config.h -cnewer build/CMakeCache.txt 2>/dev/null)" ]; then
  log "Gloo headers found: configuring the addon again, with torch.distributed"
  rm -f build/CMakeCache.txt "$addon"
fi
if [ ! -f "$addon" ] || [ -n "$(find native CMakeLists.txt -newer "$addon" 2>/dev/null | head -1)" ]; then
  log "building the native addon (cmake-js)"
  npx cmake-js compile --directory . --out build --config Release
fi

# The marker is a compiled test: npm's `prepare` (run by npm ci) compiles only src/, for the package.
compiled=dist/test/helpers.js
if [ ! -f "$compiled" ] || [ -n "$(find src test scripts tsconfig.json -name '*.ts' -newer "$compiled" 2>/dev/null | head -1)" ] \
   || [ tsconfig.json -nt "$compiled" ]; then
  log "compiling TypeScript"
  npx tsc -p tsconfig.json
  node scripts/esm-wrapper.js
fi
