#!/usr/bin/env bash
# A refactoring's check: the tiny demo (`xtune-demo --preset tiny`) at REV and at the working tree, each into
# the same --out path, must give byte-identical tables and per-example results and equal checkpoint tensors.
# Usage: bash scripts/demo_identical.sh REV [DEMO FLAGS]   (about 2 minutes; REV's code runs from a temporary
# worktree; e.g. `--rows augmentations` adds the subword-sampling, Gaussian-noise and MT rows)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/demo_identical.sh REV [DEMO FLAGS]}
shift
flags=("$@")
. scripts/venv.sh
root=$(pwd)
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/rev" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/rev" "$rev" >/dev/null
demo() {  # $1: the checkout whose code runs; $2: where its output is kept
  (cd "$1" && OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore PYTHONPATH="$1" "$VENV_PY" -m xtune_fairseq.cli.demo \
    --preset tiny --out "$tmp/out" "${flags[@]}" >"$2.log" 2>&1) || { tail -20 "$2.log" >&2; exit 1; }
  mv "$tmp/out" "$2"
}
demo "$tmp/rev" "$tmp/before"
demo "$root" "$tmp/after"
"$VENV_PY" - "$tmp/before" "$tmp/after" <<'PY'
import filecmp, glob, os, sys

import torch

from xtune_fairseq.fairseq_wiring.checkpoints import safe_load

before, after = sys.argv[1:]
files = sorted(glob.glob(f"{before}/results-*") + glob.glob(f"{before}/*/results*.json"))
differ = [f for f in files if not filecmp.cmp(f, f.replace(before, after, 1), shallow=False)]
checkpoints = sorted(glob.glob(f"{before}/*/stage*/checkpoint_*.pt"))
for a in checkpoints:
    x, y = safe_load(a)["model"], safe_load(a.replace(before, after, 1))["model"]
    if x.keys() != y.keys() or not all(torch.equal(x[k], y[k]) for k in x):
        differ.append(a)
for f in differ:
    print("differs:", os.path.relpath(f, before))
print(f"{len(files)} result files, {len(checkpoints)} checkpoints: "
      + ("byte-identical results, equal weights" if not differ else f"{len(differ)} differ"))
sys.exit(1 if differ else 0)
PY
