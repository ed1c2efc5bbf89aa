#!/usr/bin/env bash
# configs/debdesc.yaml end to end: the WordPiece vocabulary, hard negatives for every training query, BM25's
# top 30 for 1,000 dev queries (the eval set during training), training, then the BM25-vs-model table on the
# same 1,000 dev queries as the quickstart (BM25's top 100), plain and fused. Preparation steps are skipped
# when their output exists. Extra arguments go to the training command, e.g.
#   bash scripts/debdesc.sh --set training.bf16=true --set training.group_by_length=true --set training.cuda_graphs=true
set -euo pipefail
cd "$(dirname "$0")/.."
rrtrain() { node dist/src/cli.js "$@"; }
out=runs/debdesc
mkdir -p "$out"
start=$(date +%s)
stamp() { echo "[debdesc $(( $(date +%s) - start ))s] $*"; }
# On a lent GPU machine (see scripts/bench/GPU-NOTES.md) $OUT is the folder that comes back: keep the curves,
# the metrics log and the config there, even when a later step fails or the call's time runs out first.
keep() { [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp -f "$out"/model/{report.svg,metrics.jsonl,rrtrain_config.yaml} "$OUT"/ 2>/dev/null; true; }
trap keep EXIT
trap 'exit 143' TERM   # the EXIT trap then keeps what is there
trap 'exit 130' INT

[ -f "$out/tokenizer/tokenizer.json" ] || rrtrain tokenizer --data debdesc:train --out "$out/tokenizer" --vocab-size 30000
[ -f "$out/train-hard-negatives.jsonl" ] || rrtrain mine --queries debdesc:train --output "$out/train-hard-negatives.jsonl" \
  --num-negatives 15 --range-min 1 --range-max 100 --sampling random --seed 42 --quiet
[ -f "$out/dev-candidates.jsonl" ] || rrtrain mine --queries debdesc:dev --corpus debdesc:all --output "$out/dev-candidates.jsonl" \
  --max-queries 1000 --num-negatives 29 --range-min 1 --range-max 30 --sampling top --seed 7 --quiet
stamp "inputs ready"

if [ -f "$out/model/model.safetensors" ]; then
  stamp "$out/model already trained (delete it to train again)"
else
  resume=()
  [ -n "$(find "$out/model" -maxdepth 2 -name 'checkpoint-*' 2>/dev/null | head -1)" ] && resume=(--resume)
  rrtrain configs/debdesc.yaml "${resume[@]}" "$@"
  stamp "trained"
fi

echo "[debdesc] dev: BM25's top 100 reranked by the model, and BM25 fused with the model (weight 0.1), 1000 queries"
rrtrain eval --model "$out/model" --retrieval debdesc:dev --max-queries 1000 --seed 1 --fusion linear:0.1 --quiet
stamp "done; training curves: $out/model/report.svg"
