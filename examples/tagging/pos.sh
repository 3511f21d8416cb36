#!/usr/bin/env bash
# POS, cross-lingual transfer (Table 7): subword sampling for A*, A and A' (half the words), the
# authors' summed subword states, lambda1 = 5, lambda2 = 0.3; RECIPE=pos-translate-train for Table 8
# (A = MT: DATA made with --translations, translated sentences untagged: R1 against an SS view and R2).
# Inputs: MODEL (XLM-R layout), DATA (xtune-preprocess --kind tagging output).
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess --kind tagging output}"
exec xtune-pipeline --recipe "${RECIPE:-pos}" --model-dir "$MODEL" --data "$DATA" --metric accuracy \
    --out "${OUT:-runs/${RECIPE:-pos}}" "$@"
