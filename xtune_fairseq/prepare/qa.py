"""SQuAD v1.1-format JSON (SQuAD, XQuAD, MLQA, TyDiQA-GoldP) -> a data directory for
xtune_span_extraction (`xtune-preprocess --kind qa`).

Layout written:
  meta/SPLIT.jsonl            id, lang, question, context, answers [[text, char offset], ...] per question
  meta/translations.jsonl     translate-train questions with their own answers, keyed by the training id
  input0/dict.txt             the model's dictionary; label/dict.txt: start, end (the span head's outputs)
  sentencepiece.bpe.model, xtune.json (kind "qa", languages, labels, qa_word_split)
Windows are cut when a task loads the data (--max-positions, --doc-stride), so one directory
serves every window size. How contexts and questions are cut into words before sentencepiece
(word_split: core.qa.windows.WORD_SPLITS) is recorded in xtune.json: training, evaluation and
xtune-convert to-hf read it there. Built in a temporary folder and renamed into place when complete.
"""

from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.data.prepared import (
    TRANSLATIONS, data_dir_in_progress, finish_data_dir, meta_path, qa_row, write_jsonl,
)
from xtune_fairseq.core.data.readers import LanguageCodes
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.squad import QAExample, read_squad
from xtune_fairseq.core.qa.windows import INFO_KEY, WORD_SPLITS
from xtune_fairseq.core.xlmr_dir import check_model_dir

LABELS = ("start", "end")
LangPaths = Sequence[Tuple[str, str]]  # [(lang, path)]


def read_split(files: LangPaths, require_answers: bool, unique_ids: bool,
               languages: Optional[LanguageCodes] = None) -> List[QAExample]:
    """unique_ids: an id may appear once in all files (training: translations and the teacher
    match by id); otherwise once per language (XQuAD and MLQA share ids across languages).
    languages: shared by the splits of a run (one spelling per language)."""
    out: List[QAExample] = []
    seen: Dict[tuple, str] = {}
    languages = languages or LanguageCodes()
    for lang, path in files:
        lang = languages.check(lang, path)
        for ex in read_squad(path, lang, require_answers=require_answers):
            key = ex.id if unique_ids else (lang, ex.id)
            if key in seen:
                raise InputError(f"{path}: question id {ex.id!r} also in {seen[key]}; expected unique ids"
                                 + ("" if unique_ids else " per language"))
            seen[key] = path
            out.append(ex)
    return out


def read_qa_translations(files: LangPaths, train: Sequence[QAExample],
                         languages: Optional[LanguageCodes] = None) -> Dict[str, List[QAExample]]:
    ids = {ex.id for ex in train}
    table: Dict[str, List[QAExample]] = {}
    languages = languages or LanguageCodes()
    for lang, path in files:
        lang = languages.check(lang, path)
        for ex in read_squad(path, lang, require_answers=True):
            if ex.id not in ids:
                raise InputError(f"{path}: translated question id {ex.id!r} matches no training question")
            table.setdefault(ex.id, []).append(ex)
    return table


def preprocess_qa(model_dir: str, dest: str, train: LangPaths, valid: Optional[LangPaths] = None,
                  test: Optional[LangPaths] = None, translations: Optional[LangPaths] = None,
                  force: bool = False, word_split: str = "whitespace") -> str:
    """train/valid/test/translations: lists of (lang, path) of SQuAD-format files; word_split:
    "whitespace" (the authors': a run without spaces is one word) or "character" (each character
    of a script without spaces is a word too). Returns dest."""
    check_word_split(word_split)
    check_model_dir(model_dir)
    codes = LanguageCodes()
    data = {"train": read_split(train, require_answers=True, unique_ids=True, languages=codes)}
    for split, files in (("valid", valid), ("test", test)):
        if files:
            data[split] = read_split(files, require_answers=False, unique_ids=False, languages=codes)
    trans = read_qa_translations(translations, data["train"], codes) if translations else {}
    inputs = [model_dir] + [path for files in (train, valid, test, translations) for _, path in files or ()]
    return write_qa(model_dir, dest, data, trans, inputs, force, word_split)


def check_word_split(word_split: str) -> None:
    if word_split not in WORD_SPLITS:
        raise InputError(f"--qa-word-split {word_split!r}: expected one of {', '.join(WORD_SPLITS)}")


def write_qa(model_dir: str, dest: str, data: Dict[str, List[QAExample]], trans: Dict[str, List[QAExample]],
             inputs: Sequence[str] = (), force: bool = False, word_split: str = "whitespace") -> str:
    """data: {split: [QAExample]}; trans: {training id: [QAExample]}; inputs: the paths dest may not replace;
    word_split: see preprocess_qa."""
    check_word_split(word_split)
    with data_dir_in_progress(dest, inputs, force) as work:
        for split, examples in data.items():
            write_jsonl(meta_path(work, split), map(qa_row, examples))
        if trans:
            write_jsonl(meta_path(work, TRANSLATIONS), (qa_row(t) for ts in trans.values() for t in ts))
        finish_data_dir(work, model_dir, "qa", data, LABELS, label_dict=True, extra={INFO_KEY: word_split})
    return dest
