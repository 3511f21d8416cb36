"""Classification TSVs -> a fairseq data directory for xtune_classification (`xtune-preprocess`).

Layout written (sentence_prediction's, plus what per-epoch augmentation needs):
  input0/, input1/   pieces binarized by fairseq-preprocess against the model's dict.txt
  label/             labels binarized by fairseq-preprocess (label/dict.txt from train)
  meta/SPLIT.jsonl   id, lang, raw sentences, label per example (views are re-sampled from it)
  meta/translations.jsonl   translate-train sentences keyed by example id (optional)
  sentencepiece.bpe.model, xtune.json (languages, labels, sentence pair or not)
Everything is built in a temporary folder and renamed into place when complete.
"""

import contextlib
import logging
import os
import shutil
from typing import Dict, Iterable, List, Optional, Sequence

from xtune_fairseq.core.data.prepared import (
    TRANSLATIONS, data_dir_in_progress, example_row, finish_data_dir, meta_path, write_jsonl,
)
from xtune_fairseq.core.data.readers import Example, LanguageCodes, iter_classification_tsv, iter_translations
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.progress import progress, watching
from xtune_fairseq.core.xlmr_dir import check_model_dir, load_sentencepiece

SPLITS = ("train", "valid", "test")


def binarize(trainpref: str, validpref: Optional[str], testpref: Optional[str], destdir: str,
             srcdict: Optional[str], workers: int, ids: Optional[int] = None) -> None:
    """fairseq-preprocess --only-source on the raw files PREF (one line a row) into destdir; ids: how many
    token ids they make (eos included), for progress lines while it runs (core/progress.py). fairseq's
    INFO lines go where the caller's logging sends them (xtune-preprocess shows them)."""
    # fairseq imported here, not at the top: `xtune-preprocess --help`, its input errors and the pure
    # readers start without it (3-4 s)
    from fairseq import options
    from fairseq_cli.preprocess import main as fairseq_preprocess

    argv = ["--only-source", "--destdir", destdir, "--workers", str(workers), "--trainpref", trainpref]
    if validpref:
        argv += ["--validpref", validpref]
    if testpref:
        argv += ["--testpref", testpref]
    if srcdict:
        argv += ["--srcdict", srcdict]
    label = f"[preprocess] {os.path.basename(destdir)}: binarized"
    lines = watching(_binarized_ids(destdir, srcdict), label, ids, "ids") if ids else contextlib.nullcontext()
    with _own_log_file(), lines:
        fairseq_preprocess(options.get_preprocessing_parser().parse_args(argv))


@contextlib.contextmanager
def _own_log_file():
    """fairseq-preprocess adds a handler writing DESTDIR/preprocess.log to its logger at every call and
    never removes it: a later call would also log into the earlier folders. Removed (and closed) here."""
    log = logging.getLogger("fairseq_cli.preprocess")
    before = list(log.handlers)
    try:
        yield
    finally:
        for handler in [h for h in log.handlers if h not in before]:
            log.removeHandler(handler)
            handler.close()


def _binarized_ids(destdir: str, srcdict: Optional[str]):
    """How many token ids fairseq-preprocess has written into destdir so far: the bytes of its .bin files
    (SPLIT.bin, and SPLIT.ptK.bin of its --workers) over the bytes of one id, the integer type fairseq
    picks for the dictionary's size (its 4 special symbols + one entry a line of srcdict). While fairseq
    appends a worker's SPLIT.ptK.bin to SPLIT.bin, that part counts twice (the count runs ahead, capped
    at the total, then waits); a file removed between listing and measuring counts 0."""
    import numpy as np  # late, as fairseq: with it
    from fairseq.data.indexed_dataset import best_fitting_int_dtype

    entries = 0
    if srcdict:
        with open(srcdict, encoding="utf-8") as f:
            entries = sum(1 for _ in f)
    width = np.dtype(best_fitting_int_dtype(4 + entries)).itemsize

    def size(path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    def measure() -> int:
        names = os.listdir(destdir) if os.path.isdir(destdir) else []
        return sum(size(os.path.join(destdir, n)) for n in names if n.endswith(".bin")) // width

    return measure


def preprocess(model_dir: str, dest: str, train: str, valid: Optional[str] = None, test: Optional[str] = None,
               translations: Optional[str] = None, workers: int = 1, force: bool = False) -> str:
    """train/valid/test: classification TSVs (id, lang, sentence or sentence1 and sentence2, label);
    translations: translate-train TSV (id of a training example, lang, sentences). Returns dest."""
    check_model_dir(model_dir)
    paths = {"train": train, "valid": valid, "test": test}
    codes = LanguageCodes()  # one spelling per language in all files

    def read(split, labels=None):  # a progress line on stderr every few seconds of a big file
        rows = iter_classification_tsv(paths[split], labels, languages=codes)
        return list(progress(rows, f"[preprocess] {split}: read"))

    data = {"train": read("train")}
    labels = sorted({ex.label for ex in data["train"]})
    for split in ("valid", "test"):
        if paths[split]:
            data[split] = read(split, labels)
    n_texts = len(data["train"][0].texts)
    for split, examples in data.items():
        if any(len(ex.texts) != n_texts for ex in examples):
            raise InputError(f"{paths[split]}: {'sentence pairs' if n_texts == 2 else 'single sentences'} expected, as in {train}")
    trans = iter_translations(translations, data["train"], codes) if translations else None
    return write_classification(model_dir, dest, data, labels, trans, [model_dir, train, valid, test, translations],
                                workers, force)


def write_classification(model_dir: str, dest: str, data: Dict[str, List[Example]], labels: Sequence[str],
                         trans: Optional[Iterable[Example]] = None, inputs: Sequence[Optional[str]] = (),
                         workers: int = 1, force: bool = False) -> str:
    """data: {split: [Example]} (train, optional valid and test); trans: translations (Examples with
    their source's id), an iterable read as it is written (millions of rows are never held), or None;
    inputs: the paths dest may not replace."""
    n_texts = len(data["train"][0].texts)
    sp = load_sentencepiece(os.path.join(model_dir, "sentencepiece.bpe.model"))
    with data_dir_in_progress(dest, inputs, force) as work:
        raw = os.path.join(work, "raw")
        os.makedirs(raw)
        ids = [0] * n_texts  # token ids of input{k} in all splits, eos included: binarize's progress
        for split, examples in data.items():
            for k in range(n_texts):
                with open(os.path.join(raw, f"{split}.input{k}"), "w", encoding="utf-8") as f:
                    for ex in progress(examples, f"[preprocess] {split}: encoded input{k}"):
                        pieces = sp.encode(ex.texts[k], out_type=str)
                        ids[k] += len(pieces) + 1
                        f.write(" ".join(pieces) + "\n")
            with open(os.path.join(raw, f"{split}.label"), "w", encoding="utf-8") as f:
                f.writelines((ex.label or "") + "\n" for ex in examples)  # None: a test set without labels
            write_jsonl(meta_path(work, split), map(example_row, examples), len(examples))
        if trans is not None and not write_jsonl(meta_path(work, TRANSLATIONS), map(example_row, trans)):
            os.remove(meta_path(work, TRANSLATIONS))

        def pref(split, name):
            return os.path.join(raw, f"{split}.{name}") if split in data else None

        for k in range(n_texts):
            binarize(pref("train", f"input{k}"), pref("valid", f"input{k}"), pref("test", f"input{k}"),
                     os.path.join(work, f"input{k}"), os.path.join(model_dir, "dict.txt"), workers, ids[k])
        binarize(pref("train", "label"), pref("valid", "label"), pref("test", "label"),
                 os.path.join(work, "label"), None, 1)
        shutil.rmtree(raw)
        finish_data_dir(work, model_dir, "classification", data, labels, sentence_pair=n_texts == 2)
    return dest
