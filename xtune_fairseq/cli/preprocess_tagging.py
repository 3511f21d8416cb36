"""xtune-preprocess --kind tagging: CoNLL or word/TAG files -> a data directory for
xtune_sequence_labeling.

Layout written:
  meta/SPLIT.jsonl            id, lang, words, tags per sentence (views are encoded from it)
  meta/translations.jsonl     unlabelled translations of training sentences, keyed by their id
  input0/dict.txt             the model's dictionary;  label/dict.txt: the training tag set
  sentencepiece.bpe.model, xtune.json (kind "tagging", languages, labels)
Built in a temporary folder and renamed into place when complete.
"""

from typing import Dict, List, Sequence, Tuple

from xtune_fairseq.core.data.prepared import (
    TRANSLATIONS, data_dir_in_progress, finish_data_dir, meta_path, tagged_row, write_jsonl,
)
from xtune_fairseq.core.data.readers import LanguageCodes, read_translations
from xtune_fairseq.core.data.tagged import TaggedSentence, read_tagged
from xtune_fairseq.core.xlmr_dir import check_model_dir


def read_split(files: Sequence[Tuple[str, str]], split: str, fmt: str, labels=None,
               languages: LanguageCodes = None) -> List[TaggedSentence]:
    """languages: shared by the splits of a run (one spelling per language)."""
    sentences, languages = [], languages or LanguageCodes()
    for lang, path in files:
        sentences += read_tagged(path, languages.check(lang, path), fmt, labels=labels, prefix=f"{split}-")
    return sentences


def preprocess_tagging(model_dir: str, dest: str, train, valid=None, test=None, translations=None, fmt="auto",
                       force: bool = False):
    """train/valid/test: lists of (lang, path); translations: TSV id, lang, sentence (words split by spaces)."""
    check_model_dir(model_dir)
    codes = LanguageCodes()
    data = {"train": read_split(train, "train", fmt, languages=codes)}
    labels = sorted({t for s in data["train"] for t in s.tags})
    for split, files in (("valid", valid), ("test", test)):
        if files:
            data[split] = read_split(files, split, fmt, labels=labels, languages=codes)
    trans: Dict[str, list] = read_translations(translations, data["train"], codes) if translations else {}
    inputs = [model_dir, translations] + [path for files in (train, valid, test) for _, path in files or ()]
    return write_tagging(model_dir, dest, data, labels, trans, inputs, force)


def write_tagging(model_dir: str, dest: str, data: dict, labels, trans: Dict[str, list], inputs=(), force=False):
    """data: {split: [TaggedSentence]}; trans: {training id: [rows whose texts[0] holds the words]};
    inputs: the paths dest may not replace."""
    with data_dir_in_progress(dest, inputs, force) as work:
        for split, sentences in data.items():
            write_jsonl(meta_path(work, split), map(tagged_row, sentences))
        if trans:
            write_jsonl(meta_path(work, TRANSLATIONS),
                        (tagged_row(TaggedSentence(t.id, t.lang, tuple(t.texts[0].split()))) for ts in trans.values() for t in ts))
        finish_data_dir(work, model_dir, "tagging", data, labels, label_dict=True)
    return dest
