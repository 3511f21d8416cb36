"""xtune-make-tiny-model: a tiny randomly-initialised model in the XLM-R directory layout,
with a real sentencepiece unigram model trained on the given (or generated) text."""

import argparse
import os
import tempfile

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.flag_ranges import check_ranges


def build_tiny_model(out_dir, corpus, vocab_size=400, layers=2, dim=32, heads=2, ffn=64, seed=1, force=False):
    import sentencepiece as spm

    from xtune_fairseq.convert.fairseq_roberta import random_roberta, roberta_args
    from xtune_fairseq.checkpoints import checkpoint_state
    from xtune_fairseq.xlmr_dir import check_model_out, write_model_dir

    check_model_out(out_dir, [corpus], force)

    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
            character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, seed_sentencepiece_size=100000,
            minloglevel=2, num_threads=1,
        )
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        pieces = [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
        args = roberta_args(layers, dim, heads, ffn, 512, seed)
        model = random_roberta(args, pieces, seed)
        write_model_dir(out_dir, checkpoint_state(args, model.state_dict()), prefix + ".model", pieces,
                        [corpus], force)
    return out_dir


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output XLM-R-format directory")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out that this command did not write")
    p.add_argument("--corpus", help="text to train sentencepiece on (default: generated data)")
    p.add_argument("--data-out", help="with no --corpus: where to write the generated TSV data")
    p.add_argument("--vocab-size", type=int, default=400)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    def go():
        check_ranges(args)
        corpus = args.corpus
        if corpus is None:
            from xtune_fairseq.synthetic import generate

            corpus = generate(args.data_out or os.path.join(args.out + "-data"), seed=args.seed)["corpus"]
        build_tiny_model(args.out, corpus, args.vocab_size, args.layers, args.dim, args.heads, args.ffn, args.seed,
                         args.force)
        print(f"wrote {args.out}")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
