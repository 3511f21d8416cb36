"""xtune-results: gather evaluation JSON of several runs (e.g. baseline, Data Aug., R1 only,
R2 only, full xTune, each over seeds) into per-language tables with mean ± std, the
cross-lingual transfer gap (the paper's Table 9), a CSV and a PNG chart.

  xtune-results --run 'baseline=runs/base-s*/results.json:stage1' \\
                --run 'xtune=runs/xtune-s*/results.json:stage2' --out results/sentiment
"""

import argparse
import csv
import glob
import json
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.errors import InputError
from xtune_fairseq.files import atomic_open


def load_runs(specs):
    """NAME=GLOB[:KEY] -> {NAME: [result, ...]}; KEY picks an entry of each JSON (default: NAME)."""
    runs = {}
    for spec in specs:
        if "=" not in spec:
            raise InputError(f"--run {spec!r}: expected NAME=GLOB[:KEY]")
        name, rest = spec.split("=", 1)
        pattern, _, key = rest.partition(":") if ":" in rest and not os.path.exists(rest) else (rest, "", "")
        files = sorted(glob.glob(pattern))
        if not files:
            raise InputError(f"--run {name}: no file matches {pattern}")
        runs[name] = []
        for path in files:
            with open(path) as f:
                data = json.load(f)
            entry = data.get(key or name)
            if entry is None:
                raise InputError(f"{path}: no entry {key or name!r} (has {sorted(data)})")
            runs[name].append(entry)
    return runs


def write_tables(runs, out_stem, title="accuracy"):
    from xtune_fairseq.cli.evaluate import write_outputs
    from xtune_fairseq.evaluation.metrics import aggregate
    from xtune_fairseq.evaluation.plots import bar_chart

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
    gap += [f"| {n} | {r['runs']} | {r['transfer_gap']:.1f} ± {r['transfer_gap_std']:.1f} |" for n, r in results.items()]
    with atomic_open(out_stem + "-gap.md") as f:
        f.write("\n".join(gap) + "\n")
    bar_chart(results, out_stem + ".png", title)
    return table, "\n".join(gap)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="NAME=GLOB[:KEY], repeatable")
    p.add_argument("--out", required=True, help="output stem: writes STEM.md, .json, .csv, -gap.md, .png")
    p.add_argument("--title", default="accuracy per language")
    a = p.parse_args(argv)

    def go():
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        table, gap = write_tables(load_runs(a.run), a.out, a.title)
        print(table + "\n" + gap)

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
