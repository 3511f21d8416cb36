"""xtune-results: gather evaluation JSON of several runs (e.g. baseline, Data Aug., R1 only,
R2 only, full xTune, each over seeds) into per-language tables with mean ± std, the
cross-lingual transfer gap (the paper's Table 9), a CSV and a PNG chart.

  xtune-results --run 'baseline=runs/base-s*/results.json:stage1' \\
                --run 'xtune=runs/xtune-s*/results.json:stage2' --out results/sentiment \\
                --compare baseline    # paired significance of every run against the baseline
"""

import argparse
import csv
import glob
import json
import os

from xtune_fairseq.cli.common import check_parent_folder, run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open, check_output_file
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.core.text import read_json

SUFFIXES = (".json", ".md", ".csv", "-gap.md", ".png")
SIGNIFICANCE = ("-significance.md", "-significance.json")  # with --compare
COMMAND = "xtune-results"  # the owner named in its outputs' markers (ownership.mark_output)
MIN_SAMPLES = 1  # --samples: the randomization test's p-value, (1 + extreme) / (1 + samples), needs one


def load_runs(specs, files_read=None):
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


def write_tables(runs, out_stem, title="accuracy"):
    from xtune_fairseq.cli.evaluate import write_outputs
    from xtune_fairseq.core.metrics.metrics import format_score, aggregate
    from xtune_fairseq.core.metrics.plots import bar_chart

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


def check_samples(n_samples) -> None:
    """--samples: a p-value of the randomization test needs at least MIN_SAMPLES shuffles."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < MIN_SAMPLES:
        raise InputError(f"--samples {n_samples}: expected an integer >= {MIN_SAMPLES} (the randomization samples "
                         "of --compare)")


def compare(runs, baseline: str, n_samples: int = 10000):
    """{run: {difference, p_value, p_holm, seeds, per_seed}} of every run against the baseline: a paired
    approximate-randomization test over test examples and seeds (seed i of a run is paired with
    seed i of the baseline: the i-th file of each --run, in sorted order). The test measures the test
    sample's noise, not the training seeds'; per_seed (each seed's average minus the baseline's) is
    the check on that."""
    import numpy as np

    from xtune_fairseq.core.metrics.significance import holm, paired_randomization

    if baseline not in runs:
        raise InputError(f"--compare {baseline}: no --run of that name (runs: {sorted(runs)})")
    check_samples(n_samples)

    def stats(name):
        entries = runs[name]
        if any("examples" not in e for e in entries):
            raise InputError(f"--run {name}: results without per-example statistics (evaluated before they "
                             "were recorded): rerun xtune-evaluate on its checkpoints")
        return entries

    base = stats(baseline)
    first = base[0]["examples"]

    def same_examples(entries):
        return all(e["examples"]["langs"] == first["langs"] and e["examples"]["kind"] == first["kind"]
                   for e in entries)

    if not same_examples(base):
        raise InputError(f"--run {baseline}: its results were not evaluated on the same test examples")
    langs = sorted(set(first["langs"]))
    ids = [langs.index(lang) for lang in first["langs"]]
    b = np.array([e["examples"]["stats"] for e in base])
    out = {}
    for name in runs:
        if name == baseline:
            continue
        rows = stats(name)
        if len(rows) != len(base):
            raise InputError(f"--run {name}: {len(rows)} results but {len(base)} of {baseline}: the test pairs "
                             "seed by seed")
        if not same_examples(rows):
            raise InputError(f"--run {name}: not evaluated on the same test examples as {baseline}")
        a = np.array([e["examples"]["stats"] for e in rows])
        out[name] = dict(paired_randomization(a, b, ids, first["kind"], n_samples), seeds=len(rows),
                         per_seed=[r["average"] - r0["average"] for r, r0 in zip(rows, base)])
    for name, p in zip(out, holm([r["p_value"] for r in out.values()])):
        out[name]["p_holm"] = p
    return out


def significance_table(tests, baseline: str, alpha: float = 0.05) -> str:
    lines = [f"paired approximate randomization against {baseline} (test examples x seeds, two-sided; "
             "Holm-adjusted over the rows)", "",
             f"| run | avg - {baseline} | p | p (Holm) | significant | seeds above {baseline} (difference per seed) |",
             "|---|---|---|---|---|---|"]
    for name, t in tests.items():
        verdict = "yes" if t["p_holm"] < alpha else "no"
        diffs = [round(d, 2) for d in t["per_seed"]]
        seeds = f"{sum(d > 0 for d in diffs)} of {len(diffs)} ({', '.join(f'{d:+.2f}' for d in diffs)})"
        lines.append(f"| {name} | {t['difference']:+.2f} | {t['p_value']:.4f} | {t['p_holm']:.4f} | {verdict} | "
                     f"{seeds} |")
    return "\n".join(lines) + "\n"


def write_significance(runs, baseline: str, stem: str, n_samples: int = 10000) -> str:
    """compare() against the baseline, written as STEM-significance.md (the table, returned) and .json."""
    tests = compare(runs, baseline, n_samples)
    text = significance_table(tests, baseline)
    with atomic_open(stem + "-significance.md") as f:
        f.write(text)
    with atomic_open(stem + "-significance.json") as f:
        json.dump(tests, f, indent=1)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="NAME=GLOB[:KEY], repeatable")
    p.add_argument("--out", required=True, help="output stem: writes STEM.md, .json, .csv, -gap.md, .png")
    p.add_argument("--title", default="accuracy per language")
    p.add_argument("--compare", metavar="NAME",
                   help="test every other run against this one (paired approximate randomization over test "
                   "examples and seeds): writes STEM-significance.md and .json")
    p.add_argument("--samples", type=int, default=10000, help="randomization samples of --compare")
    p.add_argument("--force", action="store_true",
                   help="replace existing STEM files that are not xtune-results' own unchanged previous output")
    a = p.parse_args(argv)

    def go():
        if a.compare:  # before any file is read or written
            check_samples(a.samples)
        check_parent_folder(a.out, "--out")
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        inputs = []
        runs = load_runs(a.run, inputs)
        outputs = [a.out + suffix for suffix in SUFFIXES + (SIGNIFICANCE if a.compare else ())]
        for path in outputs:
            check_output_file(path, "--out", inputs, command=COMMAND, force=a.force)
        table, gap = write_tables(runs, a.out, a.title)
        print(table + "\n" + gap)
        if a.compare:
            print(write_significance(runs, a.compare, a.out, a.samples))
        for path in outputs:
            if os.path.isfile(path):
                mark_output(path, COMMAND)

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
