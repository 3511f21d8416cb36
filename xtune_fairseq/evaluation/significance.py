"""Paired significance of runs against a baseline: approximate randomization over test examples and
seeds (the per-example statistics evaluate() records), Holm-adjusted over the runs; a markdown table
and JSON. numpy is imported on first use, not with this module: the CLIs' --help stays fast."""

import json
from typing import Dict, List

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.metrics.significance import holm, paired_randomization

MIN_SAMPLES = 1  # --samples: the randomization test's p-value, (1 + extreme) / (1 + samples), needs one
SIGNIFICANCE_SUFFIXES = ("-significance.md", "-significance.json")  # what write_significance writes


def check_samples(n_samples) -> None:
    """--samples: a p-value of the randomization test needs at least MIN_SAMPLES shuffles."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < MIN_SAMPLES:
        raise InputError(f"--samples {n_samples}: expected an integer >= {MIN_SAMPLES} (the randomization samples "
                         "of --compare)")


def compare(runs: Dict[str, List[dict]], baseline: str, n_samples: int = 10000) -> Dict[str, dict]:
    """{run: {difference, p_value, p_holm, seeds, per_seed}} of every run against the baseline: a paired
    approximate-randomization test over test examples and seeds (seed i of a run is paired with
    seed i of the baseline: the i-th file of each --run, in sorted order). The test measures the test
    sample's noise, not the training seeds'; per_seed (each seed's average minus the baseline's) is
    the check on that."""
    import numpy as np  # on first use: see the module's docstring


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


def significance_table(tests: Dict[str, dict], baseline: str, alpha: float = 0.05) -> str:
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


def write_significance(runs: Dict[str, List[dict]], baseline: str, stem: str, n_samples: int = 10000) -> str:
    """compare() against the baseline, written as STEM-significance.md (the table, returned) and .json."""
    tests = compare(runs, baseline, n_samples)
    text = significance_table(tests, baseline)
    with atomic_open(stem + "-significance.md") as f:
        f.write(text)
    with atomic_open(stem + "-significance.json") as f:
        json.dump(tests, f, indent=1)
    return text
