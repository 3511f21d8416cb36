#!/usr/bin/env bash
# translate-train-all (Table 8): machine translation for A*, A and A'; DATA made with --translations.
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess output made with --translations}"
exec xtune-pipeline --recipe "${RECIPE:-xnli-translate-train}" --model-dir "$MODEL" --data "$DATA" \
    --out "${OUT:-runs/translate-train}" "$@"
