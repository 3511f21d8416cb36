#!/usr/bin/env bash
# xTune on this machine's GPU: update times of plain fine-tuning, R1, R2, R1 + R2 and R1 + R2 with the
# cached teacher under --fp16 and --bf16 on a random model of XLM-R base's shapes, peak GPU memory,
# finite R1/R2 terms, and the two-stage pipeline end to end. Prints one markdown table (~3 min on an
# H100); exit 1 if a check failed; without CUDA: "skipped: no CUDA", exit 0.
# `scripts/gpu-check.sh --device cpu --tiny` runs the same code on a tiny model on the CPU.
# The python: $XTUNE_PYTHON if set; else python3 where fairseq already imports (e.g. a node without a
# package registry after `scripts/wheelhouse.py install`: docs/offline-install.md); else the project's
# .venv, which scripts/venv.sh builds once (that needs the registry).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${XTUNE_PYTHON:-}" ]; then
  py=$XTUNE_PYTHON
  "$py" -c "import fairseq" >/dev/null 2>&1 \
    || { echo "error: XTUNE_PYTHON=$py: fairseq does not import with it (docs/offline-install.md)" >&2; exit 2; }
elif command -v python3 >/dev/null && python3 -c "import fairseq" >/dev/null 2>&1; then
  py=$(command -v python3)
else
  . scripts/venv.sh
  py=$VENV_PY
fi
echo "[gpu-check] python: $py" >&2
export PYTHONWARNINGS=ignore
exec "$py" -m xtune_fairseq.bench.gpu_check "$@"
