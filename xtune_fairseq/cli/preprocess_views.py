"""xtune-preprocess views DATA --name NAME --epochs N [fairseq-train flags]: binarized views.

Draws the training views of epochs 1..N exactly as `fairseq-train DATA FLAGS` would draw them
online (the training dataset's own code, from seed, epoch, row and stream) and binarizes them
into DATA/views/NAME beside input0/: one folder per epoch of fairseq indexed datasets, a row's
views at its row index (layout: xtune_fairseq/core/data/views_layout.py). Training with the same flags
and `--binarized-views NAME` then reads them instead of sampling and tokenizing in its loop, and
draws online from epoch N+1 on. Views drawn with other flags are refused by name.

FLAGS are fairseq-train's (the task's view flags --data-augmentation, --r1-augmentation,
--augmented-ratio, --code-switch-dicts, --subword-*, --max-positions, --seed, ...); a run's
other flags may stay on the line and are ignored. Classification and tagging data; the views of
span extraction are re-windowed and stay online.
"""

import argparse
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.prepare import write_binarized_views


def main(argv=None):
    p = argparse.ArgumentParser(prog="xtune-preprocess views", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="a data directory written by xtune-preprocess (classification or tagging)")
    p.add_argument("--name", required=True, help="the views folder DATA/views/NAME (what --binarized-views names); "
                   "an existing one is replaced")
    p.add_argument("--epochs", type=int, required=True, help="epochs of views to draw (training draws online after)")
    p.add_argument("--workers", type=int, default=1, help="processes drawing epochs side by side")
    p.add_argument("--force", action="store_true", help="replace a DATA/views/NAME folder holding files this command "
                   "did not write")
    args, flags = p.parse_known_args(argv)

    def go():
        check_ranges(args)
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: not a folder; expected a data directory written by xtune-preprocess")
        print(write_binarized_views(args.data, args.name, args.epochs, flags, args.workers, args.force))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
