#!/usr/bin/env bash
# plain fine-tuning on the source language (stage 1 without R1), for comparison.
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess output}"
exec xtune-pipeline --recipe baseline --stages 1 --model-dir "$MODEL" --data "$DATA" --out "${OUT:-runs/baseline}" "$@"
