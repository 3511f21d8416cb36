#!/usr/bin/env bash
# The reliability probes, per class: runs their tests (in the project's .venv) and prints one row per
# class: cases probed, cases held. `bash scripts/reliability.sh` (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
xml=$(mktemp --suffix .xml)
trap 'rm -f "$xml"' EXIT
# class | test files (the probes of issue #26 are tests/test_reliability_*.py; the earlier classes' tests follow)
classes=(
  "pickled payloads in checkpoints|tests/test_checkpoints.py"
  "code through a checkpoint's configuration|tests/test_reliability_config.py"
  "outputs onto inputs, users' files and folders|tests/test_reliability_outputs.py tests/test_outputs.py"
  "reruns into a finished or resumed run|tests/test_reliability_rerun.py"
  "undecodable and malformed input files|tests/test_reliability_inputs.py tests/test_input_files.py tests/test_readers.py"
  "flags: ranges, literals, model files|tests/test_reliability_flags.py tests/test_flag_ranges.py"
  "--data with a checkpoint, teacher caches, NaN|tests/test_checkpoint_data.py"
  "SIGKILL and resume, atomic writes|tests/test_resume.py"
)
files=$(printf '%s\n' "${classes[@]}" | cut -d'|' -f2 | tr ' ' '\n' | sort -u)
OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore "$VENV_PY" -m pytest -q --junitxml="$xml" $files >/dev/null || true
"$VENV_PY" - "$xml" "${classes[@]}" <<'PY'
import sys
import xml.etree.ElementTree as ET

cases = {}
for case in ET.parse(sys.argv[1]).iter("testcase"):
    module = case.get("classname", "").split(".")[-1]
    failed = any(child.tag in ("failure", "error") for child in case)
    skipped = any(child.tag == "skipped" for child in case)
    cases.setdefault(f"tests/{module}.py", []).append("skipped" if skipped else "failed" if failed else "held")
print("| class | test files | cases | held | did not hold |")
print("|---|---|---|---|---|")
total = bad = 0
for line in sys.argv[2:]:
    name, files = line.split("|")
    results = [r for f in files.split() for r in cases.get(f, [])]
    held, failed = results.count("held"), results.count("failed")
    total, bad = total + len(results), bad + failed
    print(f"| {name} | {', '.join(f.split('/')[-1] for f in files.split())} | {len(results)} | {held} | {failed} |")
print(f"\n{total} cases, {total - bad} held, {bad} did not.")
sys.exit(1 if bad else 0)
PY
