#!/usr/bin/env bash
# Builds the addon against LibTorch 2.x with a newer g++ and runs the tests there, on a CPU machine whose own
# LibTorch is Debian bookworm's 1.13. One source tree must compile against both (the GPU machine has PyTorch 2.11
# and g++ 13), and device time is too short to find compile errors there.
#
#   sudo bash scripts/check-libtorch2.sh [test files...]    (default: every dist/test/*.test.js)
#
# It makes a Debian trixie root with debootstrap (LibTorch 2.6 with OpenBLAS and Gloo, g++ 14, CMake 3.31,
# Node.js 20; ~2 GB, once, in $RRNATIVE_TRIXIE_ROOT, default ~/.cache/rrnative/trixie-root), copies the working
# tree (with its test/fixtures) and node_modules into it, builds with the project's own CMakeLists.txt (cmake-js) and
# runs node's test runner inside it (chroot). Nothing outside that folder changes. Needs root (debootstrap, chroot,
# mounting /proc there). Not part of `npm test`: a developer's check before GPU time (scripts/bench/GPU-NOTES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=${RRNATIVE_TRIXIE_ROOT:-$HOME/.cache/rrnative/trixie-root}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "[libtorch2] $*"; }

[ "$(id -u)" -eq 0 ] || { echo "[libtorch2] needs root (debootstrap, chroot): run it with sudo" >&2; exit 1; }
[ -d node_modules ] || { echo "[libtorch2] node_modules is missing: run npm ci first" >&2; exit 1; }

# 1. The trixie root, made once.
if [ ! -f "$root/.rrnative-ready" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    log "apt-get install debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  log "debootstrap trixie into $root"
  mkdir -p "$root"
  debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
  echo "deb $mirror trixie main" > "$root/etc/apt/sources.list"
  log "apt-get install g++ cmake libtorch-dev libgloo-dev libopenblas0-pthread nodejs (in the trixie root)"
  chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends g++ make cmake libtorch-dev libgloo-dev libopenblas0-pthread nodejs >/dev/null && apt-get clean'
  touch "$root/.rrnative-ready"
fi

# 2. The working tree (tracked and untracked, not ignored) over the last run's copy; its build/ is kept, so only
#    what changed is compiled again. node_modules is copied when package-lock.json changed.
work=$root/work/rrnative
mkdir -p "$work"
find "$work" -mindepth 1 -maxdepth 1 ! -name build ! -name node_modules -exec rm -rf {} +
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work"
if ! cmp -s package-lock.json "$work/node_modules/.rrnative-lock"; then
  log "copying node_modules"
  rm -rf "$work/node_modules" && cp -a node_modules "$work/node_modules" && cp package-lock.json "$work/node_modules/.rrnative-lock"
fi

# 3. Build and test inside, with a clean environment (the host's variables, e.g. NODE_EXTRA_CA_CERTS naming a file
#    that the root lacks, would otherwise reach the tests).
mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; trap 'umount "$root/proc"' EXIT; }
[ $# -gt 0 ] || set -- 'dist/test/*.test.js'
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 /bin/sh -c "
  set -e
  cd /work/rrnative
  echo \"[libtorch2] building the addon (cmake-js, g++ \$(g++ -dumpfullversion))\"
  node node_modules/cmake-js/bin/cmake-js compile --directory . --out build --config Release -p \$(nproc) \
    > build.log 2>&1 || { tail -40 build.log; exit 1; }
  grep 'rrnative:' build.log || true  # configure lines, when it configured
  node node_modules/typescript/bin/tsc -p . && node scripts/esm-wrapper.js
  node -e \"const i = require('./dist/src/native.js').addon().runtimeInfo();
    console.log('[libtorch2] addon loads: LibTorch ' + i.torchVersion + ', BLAS ' + i.blas)\"
  node --test --test-concurrency=1 $*"
