"""The demo as a library: one seed's table of rows (trained once, finished runs reused) and the
table over seeds with its significance test; the sentiment rows (study/sentiment.py) or POS's
(study/pos_rows.py)."""

import os
from typing import Optional

from xtune_fairseq.pipeline import results_stem
from xtune_fairseq.study.runs import run_rows
from xtune_fairseq.study.sentiment import EPOCHS, ROW_SETS, SETTINGS, prepare_real, prepare_tiny, sentiment_rows, \
    uses_translations
from xtune_fairseq.evaluation import write_outputs
from xtune_fairseq.core.metrics.plots import bar_chart
from xtune_fairseq.study.pos_rows import run_pos
from xtune_fairseq.evaluation import write_significance, write_tables


def run(preset: str, out: str, cache: str, seed: int, task: str = "sentiment", row_set: str = "demo",
        n_train: int = 1000, split: str = "test", epochs: Optional[int] = None) -> dict:
    """One seed's rows ({name: evaluation on split}), also written as results-ROWS[-SPLIT]-sSEED.{json,md,png}
    (no SPLIT for test); epochs: a stage's epochs (sentiment; default the preset's)."""

    if task == "pos":
        results = run_pos(out, cache, seed, row_set, split=split)
    else:
        mt = uses_translations(row_set)
        prep = prepare_real(cache, n_train, mt) if preset == "real" else prepare_tiny(os.path.join(out, "prepared"))
        epochs = epochs or EPOCHS[preset]
        common = ["--model-dir", prep["model"], "--data", prep["bin"], "--code-switch-dicts", prep["dicts"],
                  *SETTINGS[preset], "--epochs", str(epochs)]
        results = run_rows(sentiment_rows(epochs=epochs), ROW_SETS[row_set], common, out, seed, split=split)
    stem = os.path.join(out, f"results-{results_stem(split, row_set)}-s{seed}")
    write_outputs(results, stem + ".json", stem + ".md")
    bar_chart(results, stem + ".png", f"{task}: {row_set} rows, {split} (seed {seed})")
    return results


def run_seeds(preset: str, out: str, cache: str, seeds, task: str = "sentiment", row_set: str = "demo",
              n_train: int = 1000, split: str = "test", epochs: Optional[int] = None):
    """Each seed's rows (finished runs reused), mean ± std over the seeds, and a paired significance
    test of every row against the baseline over the split's examples and seeds."""

    per_seed = [run(preset, out, cache, seed, task, row_set, n_train, split, epochs) for seed in seeds]
    runs = {name: [r[name] for r in per_seed] for name in per_seed[0]}
    tag = "-".join(str(s) for s in seeds)
    stem = os.path.join(out, f"results-{results_stem(split, row_set)}-seeds-{tag}")
    metric = next(iter(per_seed[0].values()))["metric"]
    table, gap = write_tables(runs, stem, f"{task} {metric} on {split}, mean ± std over seeds {tag}")
    significance = write_significance(runs, "baseline", stem)
    return table + "\n" + gap + "\n" + significance, stem


def default_out(task, preset, rows, n_train, epochs=None) -> str:
    if task == "pos":
        return os.path.join("work", "demo", "pos")
    name = preset + ("-mt" if uses_translations(rows) else "") + (f"-n{n_train}" if n_train != 1000 else "")
    name += f"-e{epochs}" if epochs and epochs != EPOCHS[preset] else ""
    return os.path.join("work", "demo", name)
