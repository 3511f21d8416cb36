"""Results of several runs (e.g. baseline, Data Aug., R1 only, R2 only, full xTune, each over seeds)
gathered into per-language tables with mean ± std and the cross-lingual transfer gap (the paper's
Table 9): markdown, JSON, CSV and a PNG chart."""

import csv
import glob
import os
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.metrics.metrics import aggregate, format_score
from xtune_fairseq.core.metrics.plots import bar_chart
from xtune_fairseq.core.text import read_json
from xtune_fairseq.evaluation.report import write_outputs

TABLE_SUFFIXES = (".json", ".md", ".csv", "-gap.md", ".png")  # what write_tables writes beside its stem


def load_runs(specs: Sequence[str], files_read: Optional[List[str]] = None) -> Dict[str, List[dict]]:
    """NAME=GLOB[:KEY] -> {NAME: [result, ...]}; KEY picks an entry of each JSON (default: NAME).
    files_read, a list, collects the paths read."""
    runs = {}
    for spec in specs:
        if "=" not in spec:
            raise InputError(f"--run {spec!r}: expected NAME=GLOB[:KEY]")
        name, rest = spec.split("=", 1)
        if name in runs:  # the second would silently replace the first
            raise InputError(f"--run {spec!r}: a second run named {name!r}; expected one --run per name")
        pattern, _, key = rest.partition(":") if ":" in rest and not os.path.exists(rest) else (rest, "", "")
        files = sorted(glob.glob(pattern))
        if not files:
            raise InputError(f"--run {name}: no file matches {pattern}")
        runs[name] = []
        if files_read is not None:
            files_read += files
        for path in files:
            runs[name].append(_entry(path, key or name))
    return runs


ENTRY_KEYS = ("average", "transfer_gap", "source_language")  # what the tables read besides per_language
RESULT = "xtune-evaluate's results JSON, {NAME: {\"per_language\": {LANG: score}, \"average\": ..., ...}}"


def _entry(path: str, key: str) -> dict:
    """The entry `key` of a results JSON, with the per-language scores the tables are made of."""
    data = read_json(path, RESULT)
    if not isinstance(data, dict):
        raise InputError(f"{path}: a JSON {type(data).__name__}, not an object; expected {RESULT}")
    entry = data.get(key)
    if entry is None:
        raise InputError(f"{path}: no entry {key!r} (has {sorted(data)})")
    if not isinstance(entry, dict) or not isinstance(entry.get("per_language"), dict):
        raise InputError(f"{path}: entry {key!r} has no 'per_language' scores; expected {RESULT}")
    missing = [k for k in ENTRY_KEYS if k not in entry]
    if missing:
        raise InputError(f"{path}: entry {key!r} lacks {', '.join(map(repr, missing))}; expected {RESULT}")
    return entry


def write_tables(runs: Dict[str, List[dict]], out_stem: str, title: str = "accuracy") -> Tuple[str, str]:
    """Mean ± std over each run's results, written as OUT_STEM.json, .md, .csv, -gap.md and .png;
    returns (the markdown table, the transfer-gap table)."""
    results = {name: aggregate(rs) for name, rs in runs.items()}
    table = write_outputs(results, out_stem + ".json", out_stem + ".md")
    langs = sorted({lang for r in results.values() for lang in r["per_language"]})
    with atomic_open(out_stem + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "runs"] + [x for lang in langs for x in (lang, lang + "_std")] +
                   ["avg", "avg_std", "gap", "gap_std"])
        for name, r in results.items():
            w.writerow([name, r["runs"]] + [x for lang in langs for x in
                                             (r["per_language"].get(lang), r["per_language_std"].get(lang))] +
                       [r["average"], r["average_std"], r["transfer_gap"], r["transfer_gap_std"]])
    gap = ["| run | runs | transfer gap |", "|---|---|---|"]
    gap += [f"| {n} | {r['runs']} | {format_score(r['transfer_gap'], r['transfer_gap_std'])} |" for n, r in results.items()]
    with atomic_open(out_stem + "-gap.md") as f:
        f.write("\n".join(gap) + "\n")
    bar_chart(results, out_stem + ".png", title)
    return table, "\n".join(gap)
