"""CoNLL or word/TAG files -> a data directory for xtune_sequence_labeling (`xtune-preprocess --kind tagging`).

Layout written:
  meta/SPLIT.jsonl            id, lang, words, tags per sentence (views are encoded from it)
  meta/translations.jsonl     unlabelled translations of training sentences, keyed by their id
  input0/dict.txt             the model's dictionary;  label/dict.txt: the training tag set
  sentencepiece.bpe.model, xtune.json (kind "tagging", languages, labels)
Built in a temporary folder and renamed into place when complete.
"""

from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.data.prepared import (
    TRANSLATIONS, data_dir_in_progress, finish_data_dir, meta_path, tagged_row, write_jsonl,
)
from xtune_fairseq.core.data.readers import LanguageCodes, read_translations
from xtune_fairseq.core.data.tagged import TaggedSentence, read_tagged
from xtune_fairseq.core.xlmr_dir import check_model_dir

LangPaths = Sequence[Tuple[str, str]]  # [(lang, path)]


def read_split(files: LangPaths, split: str, fmt: str, labels: Optional[Sequence[str]] = None,
               languages: Optional[LanguageCodes] = None) -> List[TaggedSentence]:
    """languages: shared by the splits of a run (one spelling per language)."""
    sentences, languages = [], languages or LanguageCodes()
    for lang, path in files:
        sentences += read_tagged(path, languages.check(lang, path), fmt, labels=labels, prefix=f"{split}-")
    return sentences


def preprocess_tagging(model_dir: str, dest: str, train: LangPaths, valid: Optional[LangPaths] = None,
                       test: Optional[LangPaths] = None, translations: Optional[str] = None, fmt: str = "auto",
                       force: bool = False) -> str:
    """train/valid/test: lists of (lang, path); translations: TSV id, lang, sentence (words split by spaces);
    fmt: auto, conll or word_tag. Returns dest."""
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


def write_tagging(model_dir: str, dest: str, data: Dict[str, List[TaggedSentence]], labels: Sequence[str],
                  trans: Dict[str, list], inputs: Sequence[Optional[str]] = (), force: bool = False) -> str:
    """data: {split: [TaggedSentence]}; trans: {training id: [rows whose texts[0] holds the words]};
    inputs: the paths dest may not replace."""
    with data_dir_in_progress(dest, inputs, force) as work:
        for split, sentences in data.items():
            write_jsonl(meta_path(work, split), map(tagged_row, sentences), len(sentences))
        if trans:
            write_jsonl(meta_path(work, TRANSLATIONS),
                        (tagged_row(TaggedSentence(t.id, t.lang, tuple(t.texts[0].split()))) for ts in trans.values() for t in ts))
        finish_data_dir(work, model_dir, "tagging", data, labels, label_dict=True)
    return dest
