"""xtune-preprocess: classification TSVs -> a fairseq data directory for xtune_classification.

Layout written (sentence_prediction's, plus what per-epoch augmentation needs):
  input0/, input1/   pieces binarized by fairseq-preprocess against the model's dict.txt
  label/             labels binarized by fairseq-preprocess (label/dict.txt from train)
  meta/SPLIT.jsonl   id, lang, raw sentences, label per example (views are re-sampled from it)
  meta/translations.jsonl   translate-train sentences keyed by example id (optional)
  sentencepiece.bpe.model, xtune.json (languages, labels, sentence pair or not)
Everything is built in a temporary folder and renamed into place when complete.
`xtune-preprocess views DATA ...` adds the training views of N epochs, binarized (--help there).
"""

import argparse
import os
import shutil
import sys

from xtune_fairseq.cli.common import parse_lang_paths, run_cli
from xtune_fairseq.cli.preprocess_views import main as views_main
from xtune_fairseq.core.data.prepared import (
    KINDS, TRANSLATIONS, data_dir_in_progress, example_row, finish_data_dir, meta_path, write_jsonl,
)
from xtune_fairseq.core.data.readers import LanguageCodes, iter_translations, read_classification_tsv
from xtune_fairseq.core.data.xtreme import TASKS
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.xlmr_dir import check_model_dir, load_sentencepiece

SPLITS = ("train", "valid", "test")


def _binarize(trainpref, validpref, testpref, destdir, srcdict, workers):
    from fairseq import options
    from fairseq_cli.preprocess import main as fairseq_preprocess

    argv = ["--only-source", "--destdir", destdir, "--workers", str(workers), "--trainpref", trainpref]
    if validpref:
        argv += ["--validpref", validpref]
    if testpref:
        argv += ["--testpref", testpref]
    if srcdict:
        argv += ["--srcdict", srcdict]
    fairseq_preprocess(options.get_preprocessing_parser().parse_args(argv))


def preprocess(model_dir, dest, train, valid=None, test=None, translations=None, workers=1, force=False):
    check_model_dir(model_dir)
    paths = {"train": train, "valid": valid, "test": test}
    codes = LanguageCodes()  # one spelling per language in all files
    data = {"train": read_classification_tsv(train, languages=codes)}
    labels = sorted({ex.label for ex in data["train"]})
    for split in ("valid", "test"):
        if paths[split]:
            data[split] = read_classification_tsv(paths[split], labels=labels, languages=codes)
    n_texts = len(data["train"][0].texts)
    for split, examples in data.items():
        if any(len(ex.texts) != n_texts for ex in examples):
            raise InputError(f"{paths[split]}: {'sentence pairs' if n_texts == 2 else 'single sentences'} expected, as in {train}")
    trans = iter_translations(translations, data["train"], codes) if translations else None
    return write_classification(model_dir, dest, data, labels, trans, [model_dir, train, valid, test, translations],
                                workers, force)


def write_classification(model_dir, dest, data, labels, trans=None, inputs=(), workers=1, force=False):
    """data: {split: [Example]} (train, optional valid and test); trans: translations (Examples with
    their source's id), an iterable read as it is written (millions of rows are never held), or None;
    inputs: the paths dest may not replace."""
    n_texts = len(data["train"][0].texts)
    sp = load_sentencepiece(os.path.join(model_dir, "sentencepiece.bpe.model"))
    with data_dir_in_progress(dest, inputs, force) as work:
        raw = os.path.join(work, "raw")
        os.makedirs(raw)
        for split, examples in data.items():
            for k in range(n_texts):
                with open(os.path.join(raw, f"{split}.input{k}"), "w", encoding="utf-8") as f:
                    for ex in examples:
                        f.write(" ".join(sp.encode(ex.texts[k], out_type=str)) + "\n")
            with open(os.path.join(raw, f"{split}.label"), "w", encoding="utf-8") as f:
                f.writelines(ex.label + "\n" for ex in examples)
            write_jsonl(meta_path(work, split), map(example_row, examples))
        if trans is not None and not write_jsonl(meta_path(work, TRANSLATIONS), map(example_row, trans)):
            os.remove(meta_path(work, TRANSLATIONS))

        def pref(split, name):
            return os.path.join(raw, f"{split}.{name}") if split in data else None

        for k in range(n_texts):
            _binarize(pref("train", f"input{k}"), pref("valid", f"input{k}"), pref("test", f"input{k}"),
                      os.path.join(work, f"input{k}"), os.path.join(model_dir, "dict.txt"), workers)
        _binarize(pref("train", "label"), pref("valid", "label"), pref("test", "label"),
                  os.path.join(work, "label"), None, 1)
        shutil.rmtree(raw)
        finish_data_dir(work, model_dir, "classification", data, labels, sentence_pair=n_texts == 2)
    return dest


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["views"]:  # the subcommand `xtune-preprocess views DATA ...`
        return views_main(argv[1:])
    return _preprocess_main(argv)


def _preprocess_main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="XLM-R-format directory (dict.txt, sentencepiece.bpe.model)")
    p.add_argument("--kind", choices=list(KINDS),
                   help="classification: TSV files; tagging: CoNLL or word/TAG files given as LANG:PATH lists; "
                   "qa: SQuAD v1.1-format JSON files (XQuAD, MLQA, TyDiQA-GoldP) given as LANG:PATH lists "
                   "(default: classification)")
    p.add_argument("--xtreme", nargs=2, metavar=("TASK", "DIR"),
                   help=f"read TASK ({', '.join(TASKS)}) from DIR, the download folder of "
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
    p.add_argument("--dest", required=True, help="output data directory; an existing one is replaced only if "
                   "xtune-preprocess wrote it (xtune.json) and nothing was added to it")
    p.add_argument("--force", action="store_true", help="replace a non-empty --dest that xtune-preprocess did not "
                   "write (never an input, a file or the current folder)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)

    def go():
        check_ranges(args)
        if args.xtreme or args.languages:
            from xtune_fairseq.cli.preprocess_xtreme import from_args

            return print(from_args(args))
        if not args.train:
            raise InputError("--train is required (or --xtreme TASK DIR)")
        if args.kind == "qa":
            from xtune_fairseq.cli.preprocess_qa import preprocess_qa

            def qa_files(flag):
                value = getattr(args, flag)
                return parse_lang_paths(value, f"--{flag}") if value else None

            return print(preprocess_qa(args.model_dir, args.dest, qa_files("train"), qa_files("valid"),
                                       qa_files("test"), qa_files("translations"), args.force))
        if args.kind == "tagging":
            from xtune_fairseq.cli.preprocess_tagging import preprocess_tagging

            def files(flag):
                value = getattr(args, flag)
                return parse_lang_paths(value, f"--{flag}") if value else None

            return print(preprocess_tagging(args.model_dir, args.dest, files("train"), files("valid"), files("test"),
                                            args.translations, args.tag_format, args.force))
        return print(preprocess(args.model_dir, args.dest, args.train, args.valid, args.test,
                                args.translations, args.workers, args.force))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
