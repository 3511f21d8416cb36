#!/usr/bin/env bash
# xTune on this machine's GPU: update times of plain fine-tuning, R1, R2, R1 + R2 and R1 + R2 with the
# cached teacher under --fp16 and --bf16 on a random model of XLM-R base's shapes, peak GPU memory,
# finite R1/R2 terms, and the two-stage pipeline end to end. Prints one markdown table (~3 min on an
# H100); exit 1 if a check failed; without CUDA: "skipped: no CUDA", exit 0.
# `scripts/gpu-check.sh --device cpu --tiny` runs the same code on a tiny model on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
export PYTHONWARNINGS=ignore
exec "$VENV_PY" -m xtune_fairseq.bench.gpu_check "$@"
