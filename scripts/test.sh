#!/usr/bin/env bash
# The test suite: creates/reuses .venv, then runs pytest (fast tests; `-m slow` for the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONWARNINGS=ignore
exec "$VENV_PY" -m pytest -q "$@"
