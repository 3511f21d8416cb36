#!/usr/bin/env bash
# pawsx, cross-lingual transfer (Table 7): code-switch for A*, A and A'.
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess output}" "${DICTS:?comma-separated en-XX.txt}"
exec xtune-pipeline --recipe pawsx --model-dir "$MODEL" --data "$DATA" --code-switch-dicts "$DICTS" \
    --out "${OUT:-runs/pawsx}" "$@"  # the recipe switches half the words (the authors' PAWS-X ratio)
