#!/usr/bin/env bash
# Cross-validates each candidate NLU configuration in docs/nlu-configs/ on data/nlu and writes the
# per-config reports to results/nlu-comparison/<name>/ (summarised into docs/nlu-comparison.md by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
folds="${FOLDS:-3}"
for config in docs/nlu-configs/*.yml; do
  name=$(basename "$config" .yml)
  out="results/nlu-comparison/$name"
  mkdir -p "$out"
  start=$(date +%s)
  .venv/bin/python -m rasa test nlu --nlu data/nlu --config "$config" --cross-validation --folds "$folds" \
    --out "$out" --no-plot > "$out/log.txt" 2>&1
  echo "$name: $(( $(date +%s) - start ))s for $folds folds" | tee "$out/time.txt"
done
