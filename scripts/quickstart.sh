#!/usr/bin/env bash
# The quickstart, end to end on the bundled data: vocabulary, hard negatives, training, and the
# BM25-vs-model table on dev. Each preparation step is skipped when its output already exists.
set -euo pipefail
cd "$(dirname "$0")/.."
rrtrain() { node dist/src/cli.js "$@"; }
out=runs/quickstart
mkdir -p "$out"
start=$(date +%s)

[ -f "$out/tokenizer/tokenizer.json" ] || rrtrain tokenizer --data debdesc:train --out "$out/tokenizer" --vocab-size 16000
[ -f "$out/train-far-negatives.jsonl" ] || rrtrain mine --queries debdesc:train --output "$out/train-far-negatives.jsonl" \
  --max-queries 12000 --num-negatives 7 --range-min 200 --range-max 1000 --sampling random --seed 41 --quiet
[ -f "$out/train-hard-negatives.jsonl" ] || rrtrain mine --queries debdesc:train --output "$out/train-hard-negatives.jsonl" \
  --max-queries 12000 --num-negatives 7 --range-min 1 --range-max 100 --sampling random --seed 42 --quiet
[ -f "$out/dev-candidates.jsonl" ] || rrtrain mine --queries debdesc:dev --corpus debdesc:all --output "$out/dev-candidates.jsonl" \
  --max-queries 300 --num-negatives 29 --range-min 1 --range-max 30 --sampling top --seed 7 --quiet

if [ -f "$out/model/model.safetensors" ]; then
  echo "[quickstart] $out/model already trained (delete it to train again)"
else
  resume=()
  [ -n "$(find "$out/model" -maxdepth 2 -name 'checkpoint-*' 2>/dev/null | head -1)" ] && resume=(--resume)
  rrtrain configs/quickstart.yaml "${resume[@]}"
fi

# The fusion weight (0.1 on the model's min-max normalised score, 0.9 on BM25's) was picked on 300 other dev queries.
echo "[quickstart] dev: BM25's top 100 reranked by the model, and BM25 fused with the model (weight 0.1), 1000 queries"
rrtrain eval --model "$out/model" --retrieval debdesc:dev --max-queries 1000 --seed 1 --fusion linear:0.1 --quiet
echo "[quickstart] done in $(( $(date +%s) - start )) s; training curves: $out/model/report.svg"
