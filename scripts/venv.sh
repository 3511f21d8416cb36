#!/usr/bin/env bash
# Creates (once) and reuses the project's virtual environment in .venv.
# Source it: `. scripts/venv.sh`; it leaves VENV_PY pointing at the venv's python.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.installed-$(cat "$root/requirements-build.txt" "$root/requirements.txt" "$root/requirements-fairseq.txt" "$root/setup.py" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] creating $venv (first run: ~4 minutes, compiles fairseq)" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  log="$venv/install.log"
  pipq() { "$venv/bin/pip" install -q "$@" >>"$log" 2>&1 || { tail -30 "$log" >&2; echo "[setup] pip failed; full log: $log" >&2; exit 1; }; }
  pipq --upgrade pip==24.3.1
  # torch must be pinned: a bare 'torch' pulls a multi-GB CUDA build.
  pipq -r "$root/requirements-build.txt"
  pipq --no-build-isolation -r "$root/requirements.txt"
  # fairseq-fixed compiles its extensions against the torch installed above; --no-deps keeps
  # torchaudio out (see requirements-fairseq.txt).
  pipq --no-build-isolation --no-deps -r "$root/requirements-fairseq.txt"
  "$venv/bin/pip" uninstall -y -q torchaudio >>"$log" 2>&1 || true  # a venv built before this change had it
  pipq --no-build-isolation --no-deps -e "$root"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
export VENV_PY="$venv/bin/python"
export PATH="$venv/bin:$PATH"
