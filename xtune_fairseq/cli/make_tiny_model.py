"""xtune-make-tiny-model: a tiny randomly-initialised model in the XLM-R directory layout,
with a real sentencepiece unigram model trained on the given (or generated) text."""

import argparse

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.prepare.tiny_model import make_tiny_model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output XLM-R-format directory")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty --out or --data-out that this command did not write")
    p.add_argument("--corpus", help="text to train sentencepiece on (default: generated data)")
    p.add_argument("--data-out", help="with no --corpus: where to write the generated TSV data")
    p.add_argument("--vocab-size", type=int, help="sentencepiece pieces trained on the corpus (default: 400, or as "
                   "many as sentencepiece finds in the corpus if fewer: 399 with sentencepiece 0.2.2)")
    p.add_argument("--layers", type=int, default=2, help="encoder layers")
    p.add_argument("--dim", type=int, default=32, help="hidden size (divisible by --heads)")
    p.add_argument("--heads", type=int, default=2, help="attention heads")
    p.add_argument("--ffn", type=int, default=64, help="feed-forward size")
    p.add_argument("--seed", type=int, default=1, help="seed of the random weights and of the generated data")
    args = p.parse_args(argv)

    def go():
        check_ranges(args)
        make_tiny_model(args.out, args.corpus, args.data_out, args.vocab_size, args.layers, args.dim, args.heads, args.ffn,
                        args.seed, args.force)
        print(f"wrote {args.out}")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
