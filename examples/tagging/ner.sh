#!/usr/bin/env bash
# NER, cross-lingual transfer (Table 7): subword sampling for A*, A and A', first subword of each word,
# lambda1 = 5, lambda2 = 5 with hard-label R2, checkpoints by dev entity F1; RECIPE=ner-translate-train
# for Table 8 (A = MT, lambda2 = 1; DATA made with --translations).
# Inputs: MODEL (XLM-R layout), DATA (xtune-preprocess --kind tagging output with BIO tags).
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess --kind tagging output}"
exec xtune-pipeline --recipe "${RECIPE:-ner}" --model-dir "$MODEL" --data "$DATA" --metric f1 \
    --out "${OUT:-runs/${RECIPE:-ner}}" "$@"
