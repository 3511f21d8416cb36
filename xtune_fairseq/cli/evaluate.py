"""xtune-evaluate: per-language scores of one or more checkpoints on a split, with the average
over languages and the cross-lingual transfer gap, as JSON and a markdown table.

Classification: accuracy. Tagging: token accuracy (POS) or entity-level F1 (BIO tags, NER);
`--metric auto` picks F1 when every tag is O, B-X or I-X. A word cut off by --max-positions
gets no prediction and counts as wrong (as O for F1). QA (span extraction): every window through
the model, spans merged per question (n-best, --n-best-size / --max-answer-length of the
checkpoint's task), F1 per language with SQuAD v1.1's normalisation (`--metric squad`, the
default) or MLQA's language-aware one (`--metric mlqa`); exact match is in the JSON too.
Languages without labels (XTREME's own test sets) are not scored: --submission-dir writes their
predictions in XTREME's submission layout; the last line says what was scored and what only predicted."""

import argparse
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import check_output_file
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.evaluation.predictions import evaluate, prediction_files
from xtune_fairseq.evaluation.report import write_outputs
from xtune_fairseq.evaluation.scores import METRICS
from xtune_fairseq.evaluation.submission import check_split, summary

COMMAND = "xtune-evaluate"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", action="append", required=True,
                   help="checkpoint to score, optionally NAME=PATH; repeat to compare runs")
    p.add_argument("--data", required=True, help="xtune-preprocess output directory")
    p.add_argument("--split", default="test", help="the data's split to score (test, valid)")
    p.add_argument("--source-lang", default="en", help="language the gap is measured from")
    p.add_argument("--batch-size", type=int, default=64, help="rows per forward pass")
    p.add_argument("--metric", choices=METRICS, default="auto",
                   help="tagging: token accuracy or F1 (auto: entity F1 for BIO tag sets, else token accuracy; f1 on "
                   "other tags, e.g. POS: seqeval's F1 over the raw tags, the udpos score of XTREME's evaluate.py); "
                   "QA: F1 and exact match with SQuAD v1.1's normalisation (squad, auto) or MLQA's per-language "
                   "one (mlqa)")
    p.add_argument("--predictions-dir", help="QA: write NAME.LANG.json answers per checkpoint and language here")
    p.add_argument("--submission-dir",
                   help="where the split has languages without labels (XTREME's test sets): write their predictions "
                   "here in XTREME's submission layout, NAME/TASK/test-LANG.tsv (.json for QA), for its leaderboard")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write the table here")
    p.add_argument("--force", action="store_true",
                   help="replace a --json / --markdown file that is not this command's own previous output")
    args = p.parse_args(argv)

    def go():
        check_ranges(args)
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: data directory not found")
        checkpoints = [spec.split("=", 1)[-1] for spec in args.checkpoint]
        if args.predictions_dir and os.path.lexists(args.predictions_dir) and not os.path.isdir(args.predictions_dir):
            raise InputError(f"--predictions-dir {args.predictions_dir}: is a file, not a folder")

        def check_outputs(outputs):  # never a checkpoint or inside the data directory read, nor someone else's file
            for flag, path in outputs:
                if path:
                    check_output_file(path, flag, checkpoints + [args.data], COMMAND, args.force)

        check_outputs([("--json", args.json), ("--markdown", args.markdown)])  # before the data is read
        unlabelled = check_split(args.data, args.split, args.submission_dir)
        written = prediction_files(args.checkpoint, args.data, args.split, unlabelled, args.predictions_dir,
                                   args.submission_dir)
        check_outputs(written)
        results = evaluate(args.checkpoint, args.data, args.split, source=args.source_lang, batch_size=args.batch_size,
                           metric=args.metric, predictions_dir=args.predictions_dir, submission_dir=args.submission_dir)
        print(write_outputs(results, args.json, args.markdown, COMMAND))
        for _, path in written:
            if os.path.isfile(path):
                mark_output(path, COMMAND)
        print(summary({args.split: results}))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
