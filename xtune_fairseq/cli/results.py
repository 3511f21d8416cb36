"""xtune-results: gather evaluation JSON of several runs (e.g. baseline, Data Aug., R1 only,
R2 only, full xTune, each over seeds) into per-language tables with mean ± std, the
cross-lingual transfer gap (the paper's Table 9), a CSV and a PNG chart.

  xtune-results --run 'baseline=runs/base-s*/results.json:stage1' \\
                --run 'xtune=runs/xtune-s*/results.json:stage2' --out results/sentiment \\
                --compare baseline    # paired significance of every run against the baseline
"""

import argparse
import os

from xtune_fairseq.cli.common import check_parent_folder, run_cli
from xtune_fairseq.core.files import check_output_file
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.evaluation.significance import SIGNIFICANCE_SUFFIXES, check_samples, write_significance
from xtune_fairseq.evaluation.tables import TABLE_SUFFIXES, load_runs, write_tables

COMMAND = "xtune-results"  # the owner named in its outputs' markers (ownership.mark_output)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="NAME=GLOB[:KEY], repeatable")
    p.add_argument("--out", required=True, help="output stem: writes STEM.md, .json, .csv, -gap.md, .png")
    p.add_argument("--title", default="accuracy per language", help="title of the tables and the chart")
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
        outputs = [a.out + suffix for suffix in TABLE_SUFFIXES + (SIGNIFICANCE_SUFFIXES if a.compare else ())]
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
