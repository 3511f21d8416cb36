"""Keeps a study's finished results in the repository: copies work/demo/*/RUN-sSEED/results*.json
(the test scores, and the dev scores of --split valid tables; compact JSON) and the per-seed tables
of every seed whose row set finished, from a study worktree.
A later session resumes by copying them back into its worktree's work/demo/ (run_rows reuses a run
whose results of the table's split exist).

    python scripts/study_snapshot.py ../runs results/study-COMMIT
"""

import glob
import json
import os
import re
import shutil
import sys


def snapshot(worktree: str, dest: str) -> list:
    src = os.path.join(worktree, "work", "demo")
    written = []
    for table in glob.glob(os.path.join(src, "*", "results-*-s*.json")):  # one per finished seed
        folder = os.path.dirname(table)
        found = re.search(r"-s(\d+)\.json$", table)
        if not found:  # the multi-seed tables (results-ROWS-seeds-1-2-...json) are rebuilt from the seeds
            continue
        seed = found.group(1)
        for path in glob.glob(os.path.join(folder, f"*-s{seed}", "results*.json")) + [table[:-5] + ".md"]:
            out = os.path.join(dest, os.path.relpath(path, src))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            if path.endswith(".json"):
                with open(path) as f, open(out, "w") as g:
                    json.dump(json.load(f), g, separators=(",", ":"))
            else:
                shutil.copyfile(path, out)
            written.append(out)
    return sorted(set(written))


if __name__ == "__main__":
    print("\n".join(snapshot(sys.argv[1], sys.argv[2])))
