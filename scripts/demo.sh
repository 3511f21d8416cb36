#!/usr/bin/env bash
# The main job: creates/reuses .venv, then runs baseline fine-tuning and two-stage xTune end to end
# and prints per-language accuracy, average and transfer gap for both. Outputs under work/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
exec "$VENV_PY" -m xtune_fairseq.cli.demo "$@"
