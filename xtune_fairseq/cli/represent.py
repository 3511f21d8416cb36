"""xtune-represent: a t-SNE (or PCA) picture of first-token (<s>) representations of labelled
examples in several languages, coloured by label, marked by language, with lines joining
translations (the paper's Figure 3). Compare a baseline and an xTune checkpoint side by side.

  xtune-represent --model runs/x/stage2/checkpoint_best.pt --data data-bin --split valid \\
      --langs en,de,fr --per-lang 100 --out xtune-tsne.png
"""

import argparse

from xtune_fairseq.cli.common import check_output_path, run_cli
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.evaluation.representations import plot_representations

COMMAND = "xtune-represent"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model directory or checkpoint")
    p.add_argument("--data", required=True, help="xtune-preprocess output (labelled examples with languages)")
    p.add_argument("--split", default="valid", help="the data's split whose examples are drawn")
    p.add_argument("--langs", default=None, help="comma-separated (default: all in the split)")
    p.add_argument("--per-lang", type=int, default=100, help="examples per language")
    p.add_argument("--layer", type=int, default=-1, help="-1: the last layer")
    p.add_argument("--method", choices=["tsne", "pca"], default="tsne", help="2-d projection")
    p.add_argument("--seed", type=int, default=1, help="seed of the projection")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--force", action="store_true", help="replace an --out file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        check_output_path(a.out, "--out", [a.model, a.data], COMMAND, a.force)  # before the work
        points, links = plot_representations(a.model, a.data, a.out, split=a.split,
                                             langs=a.langs.split(",") if a.langs else None, per_lang=a.per_lang,
                                             layer=a.layer, method=a.method, seed=a.seed)
        mark_output(a.out, COMMAND)
        print(f"wrote {a.out} ({points} points, {links} translation links)")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
