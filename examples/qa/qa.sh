#!/usr/bin/env bash
# Span extraction (Tables 7 and 8): RECIPE=xquad (default), mlqa or tydiqa, or their -translate-train
# variants (DATA made with --translations: translated SQuAD files with their own answers). Stage 1
# uses code-switch (xquad, mlqa) or subword sampling (tydiqa) for A*; stage 2 subword sampling (or MT
# for A); R1 on unchanged positions; the last stage-1 model is R2's teacher, as the authors' scripts.
# Inputs: MODEL (XLM-R layout), DATA (xtune-preprocess --kind qa output), DICTS (MUSE en-XX.txt, for CS).
set -euo pipefail
: "${MODEL:?XLM-R-format model directory}" "${DATA:?xtune-preprocess --kind qa output}"
recipe=${RECIPE:-xquad}
dicts=()
[ -n "${DICTS:-}" ] && dicts=(--code-switch-dicts "$DICTS")
exec xtune-pipeline --recipe "$recipe" --model-dir "$MODEL" --data "$DATA" "${dicts[@]}" \
    --out "${OUT:-runs/$recipe}" "$@"
