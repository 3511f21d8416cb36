#!/usr/bin/env bash
# The test suite: creates/reuses .venv, then runs pytest (fast tests; `-m slow` for the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
# test-only packages, once per version of their list (build isolation: seqeval is an sdist)
stamp=".venv/.installed-test-$(sha1sum requirements-test.txt | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing test packages (requirements-test.txt)" >&2
  "$VENV_PY" -m pip install -q --use-pep517 -r requirements-test.txt >>.venv/install.log 2>&1 \
    || { tail -30 .venv/install.log >&2; echo "[setup] pip failed; full log: .venv/install.log" >&2; exit 1; }
  rm -f .venv/.installed-test-*
  touch "$stamp"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONWARNINGS=ignore
exec "$VENV_PY" -m pytest -q "$@"
