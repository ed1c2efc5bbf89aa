#!/usr/bin/env bash
# GPU benchmark: rrnative (device cuda, bf16) against the GPU peers of ../shared/peers (peer_train.py: the HF
# Trainer and a hand-written PyTorch loop; peer_bench.py: sentence-transformers CrossEncoder), for MiniLM-L6-H384
# and BERT-base, train (batch 64) and score (batch 256), max_length 256, on one CUDA machine, in one run (about
# 6-9 minutes: build ~1-2, ours ~2, peers ~3-4; capped by --budget). Prints one Markdown table: pairs/s, ours vs
# each peer, model FLOPs utilisation, peak GPU memory, device and versions.
#
#   bash scripts/bench/gpu.sh [--peers DIR] [--carry DIR] [--work DIR] [--models minilm,bert-base]
#        [--only ours,peer_train,peer_bench] [--budget 570] [--tokenizer DIR] [--peak-tflops X] [--python python3]
#        [--setup-only] [--build-only] [--fake] [--no-checks] [--no-probe] [--profile]
#
# It is made for a CUDA machine that has python3 with PyTorch (2.11 there), CMake and a C++ compiler, but NO
# network and NO Node.js: Node and the npm packages come in a git-ignored carry folder (default .carry/). Only
# the repository travels to that machine, not ../shared beside it: the peers are taken from --peers DIR, else
# from .carry/peers, else from ../shared/peers (present on a developer machine only).
#
# Preparing the carry folder, on a developer machine (x86-64 Linux, npm set up), from the repo root:
#   npm ci && npx tsc -p . && node scripts/esm-wrapper.js && bash scripts/bench/gpu-carry.sh
# which writes .carry/node.xz (Node itself), .carry/node_modules.tar.xz (runtime packages, linux-x64 only),
# .carry/dist (compiled TypeScript) and .carry/peers (a copy of ../shared/peers; the fixtures are test/fixtures/hf).
# (~35 MB in all; the device tool's limit is 64 MiB with the working tree.) On the GPU machine, through the
# device tool: run(command="bash scripts/bench/gpu.sh", carry=[".carry"]). There the script:
#   1. unpacks .carry/node.xz to .carry/bin/node and puts it first on PATH (else uses a node on PATH);
#   2. unpacks .carry/node_modules.tar.xz when the repo has no node_modules, and copies .carry/dist to dist/
#      (else compiles with node_modules/typescript);
#   3. checks that python3's torch sees a CUDA device (exit 3 if not);
#   4. builds the addon into build/Release with CMake against python3's torch (torch.utils.cmake_prefix_path;
#      LIBTORCH unset), skipped when build/ already holds a build for that torch and these sources;
#   4b. runs the fixture tests on the GPU (RRNATIVE_TEST_DEVICE=cuda: fp32 logits, bf16 within 1e-2, the HF
#      training traces through the fused AdamW); skipped with --no-checks;
#   4c. runs scripts/bench/gpu_probe.py (launch cost, bf16 matrix rate, attention cost of new lengths); skipped
#      with --no-probe (its findings are in scripts/bench/GPU-NOTES.md);
#   5. prepares the data: the tokenizer (a WordPiece vocabulary trained on debdesc train, or --tokenizer) and the
#      peers' pairs (scripts/bench/gpu_peers.py pairs, the peers' own code);
#   6. runs ours (one process per model and task: train bf16 in file order, length-grouped, and with CUDA graphs, score bf16,
#      score fp32), then peer_train.py, then peer_bench.py (both always run both models), each under `timeout` inside the --budget, with nvidia-smi
#      sampling the GPU memory;
#   7. prints the table (dist/scripts/bench/gpu.js table) and copies table.md, results.json and bench.log to $OUT
#      when $OUT is set.
# --profile: each of ours also runs an untimed window (5 steps, or a score of 4,096 pairs) under LibTorch's
# profiler; the table is followed by where the GPU time went (kernel classes, largest kernels: profile.md).
# --setup-only stops after 2; --build-only skips 3 and stops after 4 (a test of the build, any LibTorch); --fake
# skips 3, 4 and 6 and prints the table from made-up numbers (a test of the data preparation and the table on a
# machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$(date +%s)

PEERS=""; CARRY=.carry; WORK=""; MODELS="minilm,bert-base"; ONLY="ours,peer_train,peer_bench"; BUDGET=570
TOKENIZER=""; PEAK=""; PYTHON=${PYTHON:-python3}; SETUP_ONLY=0; BUILD_ONLY=0; FAKE=0; CHECKS=1; PROBE=1; PROFILE=()

log() { echo "[gpu-bench $(( $(date +%s) - START ))s] $*" >&2; }
die() { local code=$1; shift; echo "gpu.sh: $*" >&2; exit "$code"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --peers|--carry|--work|--models|--only|--budget|--tokenizer|--peak-tflops|--python)
      [ $# -ge 2 ] || die 2 "$1 needs a value"
      case "$1" in
        --peers) PEERS=$2 ;; --carry) CARRY=$2 ;; --work) WORK=$2 ;; --models) MODELS=$2 ;; --only) ONLY=$2 ;;
        --budget) BUDGET=$2 ;; --tokenizer) TOKENIZER=$2 ;; --peak-tflops) PEAK=$2 ;; --python) PYTHON=$2 ;;
      esac
      shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --fake) FAKE=1; shift ;;
    --no-checks) CHECKS=0; shift ;;
    --no-probe) PROBE=0; shift ;;
    --profile) PROFILE=(--profile); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument: $1" ;;
  esac
done
[[ "$BUDGET" =~ ^[0-9]+$ ]] && [ "$BUDGET" -ge 60 ] || die 2 "--budget must be a whole number of seconds, at least 60 (got '$BUDGET')"
[ -z "$PEAK" ] || [[ "$PEAK" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die 2 "--peak-tflops must be a number (got '$PEAK')"
IFS=, read -r -a MODEL_LIST <<<"$MODELS"
for m in "${MODEL_LIST[@]}"; do case "$m" in minilm|bert-base) ;; *) die 2 "--models: unknown model '$m' (minilm, bert-base)" ;; esac; done
IFS=, read -r -a ONLY_LIST <<<"$ONLY"
for p in "${ONLY_LIST[@]}"; do case "$p" in ours|peer_train|peer_bench) ;; *) die 2 "--only: unknown part '$p' (ours, peer_train, peer_bench)" ;; esac; done
wants() { local x; for x in "${ONLY_LIST[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
case "$CARRY" in /*) ;; *) CARRY="$ROOT/$CARRY" ;; esac
DEADLINE=$(( START + BUDGET ))
remaining() { local r=$(( DEADLINE - $(date +%s) )); echo $(( r > 1 ? r : 1 )); }

# --- 1. Node ----------------------------------------------------------------------------------------------
if [ -f "$CARRY/node.xz" ]; then
  if [ ! -x "$CARRY/bin/node" ] || [ "$CARRY/node.xz" -nt "$CARRY/bin/node" ]; then
    mkdir -p "$CARRY/bin"
    if command -v xz >/dev/null 2>&1; then
      xz -T0 -dc "$CARRY/node.xz" > "$CARRY/bin/node.tmp"
    else  # no xz: Python's lzma reads the same format
      "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$CARRY/node.xz" "$CARRY/bin/node.tmp" \
        || die 1 "cannot unpack $CARRY/node.xz (no xz, and $PYTHON has no lzma)"
    fi
    chmod +x "$CARRY/bin/node.tmp" && mv "$CARRY/bin/node.tmp" "$CARRY/bin/node"
  fi
  export PATH="$CARRY/bin:$PATH"
elif ! command -v node >/dev/null 2>&1; then
  die 1 "no Node.js: put a Node binary in $CARRY/node.xz (xz -T2 -c /usr/bin/node > .carry/node.xz; see the top of this script)"
fi
NODE=$(command -v node)
log "node: $NODE $(node --version)"

# --- 2. npm packages and the compiled TypeScript -------------------------------------------------------------
if [ ! -e node_modules ]; then
  if [ -f "$CARRY/node_modules.tar.xz" ]; then
    if command -v xz >/dev/null 2>&1; then tar -C "$ROOT" -xJf "$CARRY/node_modules.tar.xz"
    else "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$CARRY/node_modules.tar.xz" "$ROOT"; fi
    log "node_modules unpacked from $CARRY/node_modules.tar.xz"
  else
    [ -d "$CARRY/node_modules" ] || die 1 "no node_modules and no $CARRY/node_modules(.tar.xz) (bash scripts/bench/gpu-carry.sh)"
    ln -s "$CARRY/node_modules" node_modules
    log "node_modules -> $CARRY/node_modules"
  fi
fi
for p in tokenizers/tokenizers.linux-x64-gnu.node zod node-addon-api node-api-headers; do
  [ -e "node_modules/$p" ] || die 1 "node_modules/$p is missing (see the carry preparation at the top of this script)"
done
need_js=(dist/scripts/bench/gpu.js dist/src/model.js dist/src/train/vocab.js)
have_js() { local f; for f in "${need_js[@]}"; do [ -f "$f" ] || return 1; done; }
if [ -d "$CARRY/dist" ]; then   # always: a dist/ left by an earlier call on a warm machine may be older
  mkdir -p dist && cp -r "$CARRY/dist/." dist/   # a copy, not a link: the addon is found relative to dist/'s real path
  log "dist/ copied from $CARRY/dist"
fi
if ! have_js; then
  [ -f node_modules/typescript/bin/tsc ] || die 1 "dist/ is not built and node_modules/typescript is missing: carry dist (npx tsc -p . && cp -r dist .carry/dist) or typescript"
  log "compiling the TypeScript"
  node node_modules/typescript/bin/tsc -p tsconfig.json || log "tsc reported errors (files it emitted are used)"
  have_js || die 1 "tsc did not produce ${need_js[*]}"
fi
[ -f "$ROOT/scripts/bench/gpu_peers.py" ] || die 1 "scripts/bench/gpu_peers.py is missing"
if [ -z "$PEERS" ]; then
  for d in "$CARRY/peers" "$ROOT/../shared/peers"; do [ -f "$d/peer_train.py" ] && { PEERS=$d; break; }; done
fi
if wants peer_train || wants peer_bench; then
  [ -n "$PEERS" ] && [ -f "$PEERS/peer_train.py" ] && [ -f "$PEERS/peer_bench.py" ] \
    || die 1 "no peers: pass --peers DIR, or copy ../shared/peers to $CARRY/peers (only the repo reaches the GPU machine)"
  PEERS=$(cd "$PEERS" && pwd)
  log "peers: $PEERS"
fi
WORK=${WORK:-${TMPDIR:-/tmp}/rrnative-gpu-bench}
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
BENCH_LOG="$WORK/bench.log"
: > "$BENCH_LOG"
log "work folder: $WORK"
[ "$SETUP_ONLY" = 1 ] && { log "setup done (--setup-only)"; exit 0; }

GPUJS="node $ROOT/dist/scripts/bench/gpu.js"
DATA="$ROOT/data/debdesc/train.jsonl.gz"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=true

# --- 3. CUDA ---------------------------------------------------------------------------------------------
if [ "$FAKE" = 0 ] && [ "$BUILD_ONLY" = 0 ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || die 3 "no $PYTHON"
  set +e; "$PYTHON" "$ROOT/scripts/bench/gpu_peers.py" info "$WORK/info.json" >>"$BENCH_LOG" 2>&1; rc=$?; set -e
  if [ $rc -ne 0 ]; then
    detail=$(tail -c 600 "$WORK/info.json" 2>/dev/null || true)
    die 3 "CUDA is not available to $PYTHON's torch; this benchmark needs a CUDA GPU (info: ${detail:-see $BENCH_LOG})"
  fi
  log "device: $(tr -d '\n' < "$WORK/info.json" | head -c 400)"
fi

if [ "$FAKE" = 0 ]; then
  # --- 4. the addon, against python3's torch -------------------------------------------------------------
  command -v cmake >/dev/null 2>&1 || die 1 "cmake is needed to build the addon"
  TORCH_PREFIX=$("$PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)')
  stamp="$TORCH_PREFIX $(find CMakeLists.txt native -type f | sort | xargs cat | cksum | cut -d' ' -f1)"
  if [ -f build/Release/rrnative.node ] && [ "$(cat build/.gpu-bench-stamp 2>/dev/null)" = "$stamp" ]; then
    log "addon: up to date (build/Release/rrnative.node)"
  else
    if [ -f build/CMakeCache.txt ] && ! grep -q "$TORCH_PREFIX" build/CMakeCache.txt; then rm -rf build; fi
    gen=(); command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
    build_addon() {  # extra CMake arguments; the compiler's output goes to the log
      ( unset LIBTORCH
        timeout -k 10 "$(remaining)" cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
          -DCMAKE_JS_INC="$ROOT/node_modules/node-api-headers/include;$ROOT/node_modules/node-addon-api" -DCMAKE_JS_SRC= -DCMAKE_JS_LIB= \
          -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/build/Release" "$@" \
        && timeout -k 10 "$(remaining)" cmake --build build --config Release -j "$(nproc)" ) >>"$BENCH_LOG" 2>&1
    }
    log "building the addon against $TORCH_PREFIX"
    set +e
    build_addon; rc=$?
    if [ $rc -ne 0 ]; then
      # torch.distributed (the c10d checks, the NCCL headers) and the CUDA graphs are the parts that depend most
      # on the machine's CMake, CUDA and LibTorch version: the rest of the benchmark needs neither, so try once
      # more without them (the train-graphs rows then report that the build has no CUDA graphs).
      grep -E "error|Error" "$BENCH_LOG" | head -20 >&2
      log "the build failed; building again without torch.distributed and CUDA graphs"
      build_addon -DRR_WITH_DISTRIBUTED=OFF -DRR_WITH_CUDA_GRAPHS=OFF; rc=$?
    fi
    set -e
    [ $rc -eq 0 ] && [ -f build/Release/rrnative.node ] || { grep -E "error|Error" "$BENCH_LOG" | head -40 >&2; tail -30 "$BENCH_LOG" >&2; die 1 "the addon did not build (log: $BENCH_LOG)"; }
    # CMake's record of its checks (why torch.distributed was or was not found), for the log folder.
    [ -f build/CMakeFiles/CMakeConfigureLog.yaml ] && cp build/CMakeFiles/CMakeConfigureLog.yaml "$WORK/cmake-configure-log.yaml"
    grep -h "rrnative:" "$BENCH_LOG" | sort -u >&2 || true
    # A c10d check that failed (Gloo: against the pip LibTorch, cause unknown; GPU-NOTES.md): the compiler's errors.
    for check in RR_HAVE_C10D_GLOO RR_HAVE_NCCL; do
      grep -q "^$check:INTERNAL=\$" build/CMakeCache.txt 2>/dev/null || continue
      python3 - build/CMakeFiles/CMakeConfigureLog.yaml "$check" >&2 <<'PY' || true
import sys
entries = open(sys.argv[1], encoding='utf-8', errors='replace').read().split('\n  -\n')  # one per check
for entry in (e for e in entries if f'variable: "{sys.argv[2]}"' in e):
    errors = [line.strip() for line in entry.splitlines() if 'error' in line.lower() and '--' not in line]
    print(f'[gpu-bench] CMake check {sys.argv[2]} failed:', *errors[:8], sep='\n  ')
PY
    done
    echo "$stamp" > build/.gpu-bench-stamp
    log "addon built"
  fi
  if [ "$BUILD_ONLY" = 1 ]; then
    node -e "console.log(JSON.stringify(require('$ROOT/dist/src/native.js').addon().runtimeInfo()))"
    log "built (--build-only)"; exit 0
  fi
  node -e "const i=require('$ROOT/dist/src/native.js').addon().runtimeInfo(); console.error(JSON.stringify(i)); process.exit(i.cudaAvailable?0:3)" 2>>"$BENCH_LOG" \
    || die 3 "the addon was built but sees no CUDA device (see $BENCH_LOG)"
  log "addon: $(node -e "console.log(JSON.stringify(require('$ROOT/dist/src/native.js').addon().runtimeInfo()))")"

  # --- 4b. correctness on CUDA: the fixture tests (fp32 logits, bf16 within 1e-2, the HF training traces) ----
  if [ "$CHECKS" = 1 ]; then
    FIXTURES=""
    for d in "$ROOT/test/fixtures/hf" "$CARRY/fixtures"; do [ -f "$d/bert-mini-a/fixture.json" ] && { FIXTURES=$(cd "$d" && pwd); break; }; done
    if [ -z "$FIXTURES" ]; then
      log "CUDA checks skipped: no fixtures (test/fixtures/hf is missing from the working tree)"
    else
      log "CUDA checks: fixture tests on the GPU (fixtures: $FIXTURES); packing, dropout, bias + GELU and int8 on this LibTorch's CPU"
      set +e
      # packing, dropout, bias + GELU and int8 tests run on the CPU whatever the device: their paths (SDPA beside packed
      # tokens, the eager attention for CPU training with dropout, our CPU kernels on torch's thread pool, as the pip
      # build has no OpenBLAS; its quantized engines, or a skip naming their absence) differ between Debian's
      # LibTorch 1.13 and 2.x.
      RRNATIVE_TEST_DEVICE=cuda RRNATIVE_FIXTURES="$FIXTURES" timeout -k 5 120 node --test --test-concurrency=1 \
        dist/test/parity.test.js dist/test/families.test.js dist/test/train-parity.test.js \
        dist/test/packing.test.js dist/test/dropout.test.js dist/test/bias-gelu.test.js dist/test/int8.test.js \
        dist/test/embedder.test.js dist/test/vector-index.test.js > "$WORK/cuda-tests.log" 2>&1
      rc=$?; set -e
      grep -E "^# (tests|pass|fail|skipped)|^not ok|bf16 max|^# .*: bf16" "$WORK/cuda-tests.log" | tee -a "$BENCH_LOG" >&2
      [ $rc -eq 0 ] && log "CUDA checks passed" || { log "CUDA checks FAILED (exit $rc); failures:"; grep -B2 -A12 "^not ok" "$WORK/cuda-tests.log" | head -60 >&2; }
    fi
  fi

  # --- 4c. the probe: launch cost, matrix rate, and what a new sequence length costs the attention kernels ----
  if [ "$PROBE" = 1 ]; then
    set +e
    timeout -k 5 90 "$PYTHON" "$ROOT/scripts/bench/gpu_probe.py" "$WORK/probe.json" > "$WORK/probe.log" 2>&1
    set -e
    log "probe: $(tr -d '\n ' < "$WORK/probe.json" 2>/dev/null | head -c 1500 || tail -3 "$WORK/probe.log")"
  fi
fi

# --- 5. data ---------------------------------------------------------------------------------------------
log "preparing the tokenizer and the pairs"
$GPUJS prepare --work "$WORK" ${TOKENIZER:+--tokenizer "$TOKENIZER"} 2>&1 | tee -a "$BENCH_LOG" >&2
"$PYTHON" "$ROOT/scripts/bench/gpu_peers.py" pairs "$DATA" "$WORK/pairs.jsonl" 2>&1 | tee -a "$BENCH_LOG" >&2
if [ "$FAKE" = 0 ]; then
  "$PYTHON" "$ROOT/scripts/bench/gpu_peers.py" tokcheck "$WORK/tokenizer" "$WORK/pairs.jsonl" "$WORK/hf-ids.json" >>"$BENCH_LOG" 2>&1 \
    || log "transformers' AutoTokenizer could not load $WORK/tokenizer (see $BENCH_LOG): the peers will fail too"
fi

# --- 6. measurements ---------------------------------------------------------------------------------------
# run_phase NAME CAP_SECONDS CMD...: runs CMD under timeout (min(CAP, time left)), sampling nvidia-smi memory.used.
RESERVE=0   # seconds kept back for the phases after this one
run_phase() {
  local name=$1 cap=$2; shift 2
  local left; left=$(( $(remaining) - RESERVE ))
  if [ "$left" -lt 30 ]; then
    log "$name: skipped (what is left of the --budget of ${BUDGET}s is spent or kept for the later phases)"
    echo "skipped: the --budget of ${BUDGET}s ran out" > "$WORK/$name.err"
    return 0
  fi
  local t=$(( cap < left ? cap : left ))
  local poll="" base=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -1 | tr -dc 0-9)
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 200 > "$WORK/memlog-$name.txt" 2>/dev/null &
    poll=$!
  fi
  log "$name (at most ${t}s)"
  local rc=0
  set +e
  : > "$WORK/log-$name.txt"
  timeout -k 10 "$t" "$@" 2>&1 | tee -a "$BENCH_LOG" "$WORK/log-$name.txt" >&2
  rc=${PIPESTATUS[0]}
  set -e
  if [ -n "$poll" ]; then
    kill "$poll" 2>/dev/null || true; wait "$poll" 2>/dev/null || true
    local peak; peak=$(tr -dc '0-9\n' < "$WORK/memlog-$name.txt" | sort -n | tail -1)
    [ -n "$peak" ] && [ -n "$base" ] && echo $(( peak > base ? peak - base : 0 )) > "$WORK/mem-$name.txt"
  fi
  if [ $rc -ne 0 ]; then
    { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && echo "timed out after ${t}s" >> "$WORK/log-$name.txt"
    tail -3 "$WORK/log-$name.txt" > "$WORK/$name.err"
    log "$name: failed (exit $rc): $(tail -1 "$WORK/$name.err")"
  fi
  return 0
}

if [ "$FAKE" = 1 ]; then
  log "--fake: made-up measurements"
  $GPUJS fake --work "$WORK"
else
  rm -f "$WORK"/ours-*.json "$WORK"/profile-*.json "$WORK"/profile.md "$WORK"/ours-*.err "$WORK"/mem-*.txt "$WORK"/peer_*.err "$WORK"/peers/*.json
  mkdir -p "$WORK/peers"
  # Ours first, keeping back time for the peers (on an H200, 2026-11-27: ~60 s for peer_train, ~30 s for peer_bench).
  if wants ours; then
    RESERVE=0; wants peer_train && RESERVE=$(( RESERVE + 75 )); wants peer_bench && RESERVE=$(( RESERVE + 45 ))
    for m in "${MODEL_LIST[@]}"; do
      run_phase "ours-$m-train" 60 $GPUJS ours --model "$m" --task train --work "$WORK" --max-seconds 30 "${PROFILE[@]}"
      run_phase "ours-$m-train-grouped" 60 $GPUJS ours --model "$m" --task train-grouped --work "$WORK" --max-seconds 30 "${PROFILE[@]}"
      run_phase "ours-$m-train-graphs" 60 $GPUJS ours --model "$m" --task train-graphs --work "$WORK" --max-seconds 30 "${PROFILE[@]}"
      run_phase "ours-$m-score-bf16" 45 $GPUJS ours --model "$m" --task score-bf16 --work "$WORK" "${PROFILE[@]}"
      run_phase "ours-$m-score-bf16w" 45 $GPUJS ours --model "$m" --task score-bf16w --work "$WORK" "${PROFILE[@]}"
      run_phase "ours-$m-score-fp32" 45 $GPUJS ours --model "$m" --task score-fp32 --work "$WORK" "${PROFILE[@]}"
    done
  fi
  RESERVE=0; wants peer_bench && RESERVE=45
  if wants peer_train; then
    export RR_PEER_PARTIAL="$WORK/peers/peer_train.partial.json"
    run_phase peer_train 240 "$PYTHON" "$ROOT/scripts/bench/gpu_peers.py" run "$PEERS/peer_train.py" "$DATA" "$WORK/tokenizer" "$WORK/peers"
  fi
  if wants peer_bench; then
    RESERVE=0
    export RR_PEER_PARTIAL="$WORK/peers/peer_bench.partial.json"
    run_phase peer_bench 200 "$PYTHON" "$ROOT/scripts/bench/gpu_peers.py" run "$PEERS/peer_bench.py" "$DATA" "$WORK/tokenizer" "$WORK/peers"
  fi
fi

# --- 7. the table ------------------------------------------------------------------------------------------
$GPUJS table --work "$WORK" ${PEAK:+--peak-tflops "$PEAK"} | tee -a "$BENCH_LOG"
log "done in $(( $(date +%s) - START ))s; files in $WORK"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$WORK/table.md" "$WORK/results.json" "$BENCH_LOG" "$OUT/" 2>/dev/null || true
  for f in cuda-tests.log probe.json cmake-configure-log.yaml profile.md; do [ -f "$WORK/$f" ] && cp "$WORK/$f" "$OUT/"; done; true
fi
