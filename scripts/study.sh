#!/usr/bin/env bash
# The re-measurement with the faithful defaults (issue #12): the sentiment ablation over 5 seeds, the
# paper's Table 4 augmentations (and its R1 rows with Data Aug.'s updates), training-set sizes (500 also at
# 4 epochs a stage) and the POS rows over 3 seeds, the POS dev sweep over one; each table with a paired
# significance test against the baseline: every table of the README's Results, in its order. Hours on 2
# cores; resumable: every finished run (its results.json) is reused, so rerunning the script continues
# where it stopped.
# Run it from a worktree at a fixed commit with its own .venv, e.g.
#   git worktree add ../runs COMMIT && cd ../runs && nohup bash scripts/study.sh > study.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
demo() { echo "[study] $(date -u +%FT%TZ) xtune-demo $*"; "$VENV_PY" -m xtune_fairseq.cli.demo "$@"; }
demo --rows ablation --seeds 1,2,3,4,5
demo --rows augmentations --seeds 1,2,3
demo --rows budget --seeds 1,2,3
demo --rows size --n-train 500 --seeds 1,2,3
demo --rows size --n-train 500 --epochs 4 --seeds 1,2,3
demo --rows size --seeds 1,2,3
demo --rows size --n-train 2000 --seeds 1,2,3
demo --task pos --rows ablation --seeds 1,2,3
demo --task pos --rows sweep --split valid --seeds 1
echo "[study] $(date -u +%FT%TZ) done"
