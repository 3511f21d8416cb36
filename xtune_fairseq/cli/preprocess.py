"""xtune-preprocess: classification TSVs, CoNLL / word-tag files (--kind tagging), SQuAD JSON (--kind qa)
or XTREME's downloaded files (--xtreme) -> a fairseq data directory for the xtune tasks. The layout each
writes: the docstrings of xtune_fairseq/prepare/ (classification.py, tagging.py, qa.py, xtreme.py).
`xtune-preprocess views DATA ...` adds the training views of N epochs, binarized (--help there).
"""

import argparse
import logging
import sys

from xtune_fairseq.cli.common import parse_lang_paths, run_cli
from xtune_fairseq.core.data import xtreme
from xtune_fairseq.core.data.prepared import KINDS
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.qa.windows import WORD_SPLITS
from xtune_fairseq.prepare import preprocess, preprocess_qa, preprocess_tagging, preprocess_xtreme


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["views"]:  # the subcommand `xtune-preprocess views DATA ...`
        # late: the views writer imports fairseq (3-4 s); the text writers start without it
        from xtune_fairseq.cli.preprocess_views import main as views_main
        return views_main(argv[1:])
    return _preprocess_main(argv)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="XLM-R-format directory (dict.txt, sentencepiece.bpe.model)")
    p.add_argument("--kind", choices=list(KINDS),
                   help="classification: TSV files; tagging: CoNLL or word/TAG files given as LANG:PATH lists; "
                   "qa: SQuAD v1.1-format JSON files (XQuAD, MLQA, TyDiQA-GoldP) given as LANG:PATH lists "
                   "(default: classification)")
    p.add_argument("--xtreme", nargs=2, metavar=("TASK", "DIR"),
                   help=f"read TASK ({', '.join(xtreme.TASKS)}) from DIR, the download folder of "
                   "google-research/xtreme's scripts/download_data.sh (or the authors' copy in microsoft/unilm "
                   "xtune/) instead of --train/--valid/--test; --translations is then its xtreme_translations folder")
    p.add_argument("--languages", help="with --xtreme: the dev/test languages to keep, comma-separated (default: all)")
    p.add_argument("--train", help="classification: TSV with header id, lang, sentence (or sentence1, "
                   "sentence2), label; tagging: LANG:PATH[,LANG:PATH...]")
    p.add_argument("--valid", help="dev data, all languages (checkpoint selection); same form as --train")
    p.add_argument("--test", help="test data, all languages; same form as --train")
    p.add_argument("--translations", help="translate-train TSV: id (of a train example), lang, sentence(s); for "
                   "tagging the sentence's words are separated by spaces and carry no tags; qa: LANG:PATH list of "
                   "SQuAD JSON whose question ids are training ids, with the translations' own answers")
    p.add_argument("--tag-format", choices=["auto", "conll", "word_tag"], default="auto",
                   help="tagging files: 'word<TAB>tag' lines (conll) or 'word/TAG ...' sentences (word_tag)")
    p.add_argument("--qa-word-split", choices=list(WORD_SPLITS),
                   help="qa: the words sentencepiece segments one at a time, each with its own \u2581, and that "
                   "code-switch, subword sampling and R1 work on. whitespace (default): the authors' and "
                   "transformers' (a run without spaces is one word); character: every character of a script "
                   "written without spaces (Chinese, Japanese, Thai...) is a word too. Recorded in xtune.json: "
                   "training, evaluation and xtune-convert to-hf's tokenizer follow it (docs/fidelity.md)")
    p.add_argument("--out", "--dest", dest="dest", required=True, metavar="OUT",
                   help="output data directory (--dest: its earlier name); an existing one is replaced only if "
                   "xtune-preprocess wrote it (xtune.json) and nothing was added to it")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out that xtune-preprocess did not "
                   "write (never an input, a file or the current folder)")
    p.add_argument("--workers", type=int, default=1, help="processes that binarize the data (fairseq-preprocess --workers)")
    return p


def _xtreme_flags(args):
    """--xtreme TASK DIR [--languages ...] checked against the other flags: (TASK, DIR, languages)."""
    if not args.xtreme:
        raise InputError("--languages goes with --xtreme TASK DIR")
    if args.train or args.valid or args.test:
        raise InputError("--xtreme reads TASK's train, dev and test files from DIR; leave out --train, --valid, --test")
    name, root = args.xtreme
    if args.kind and args.kind != xtreme.task(name).kind:
        raise InputError(f"--kind {args.kind}: --xtreme {name} is {xtreme.task(name).kind} data")
    return name, root, [lang for lang in args.languages.split(",") if lang] if args.languages else None


def _preprocess_main(argv):
    args = _parser().parse_args(argv)
    # fairseq-preprocess's own lines (dictionary size, sentences, tokens, <unk> share per file), as
    # fairseq-preprocess shows them, under the WARNING level the commands log at
    logging.getLogger("fairseq_cli.preprocess").setLevel(logging.INFO)

    def files(flag):  # a LANG:PATH list (tagging, qa)
        value = getattr(args, flag)
        return parse_lang_paths(value, f"--{flag}") if value else None

    def go():
        check_ranges(args)
        if args.xtreme or args.languages:
            name, root, languages = _xtreme_flags(args)
            return print(preprocess_xtreme(name, root, args.model_dir, args.dest, args.translations, languages,
                                           args.workers, args.force, qa_word_split=args.qa_word_split))
        if not args.train:
            raise InputError("--train is required (or --xtreme TASK DIR)")
        if args.qa_word_split and args.kind != "qa":
            raise InputError(f"--qa-word-split goes with --kind qa (this is --kind {args.kind or 'classification'})")
        if args.kind == "qa":
            return print(preprocess_qa(args.model_dir, args.dest, files("train"), files("valid"), files("test"),
                                       files("translations"), args.force, args.qa_word_split or "whitespace"))
        if args.kind == "tagging":
            return print(preprocess_tagging(args.model_dir, args.dest, files("train"), files("valid"), files("test"),
                                            args.translations, args.tag_format, args.force))
        return print(preprocess(args.model_dir, args.dest, args.train, args.valid, args.test,
                                args.translations, args.workers, args.force))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
