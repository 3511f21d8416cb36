"""The prepared-data format: the directory `xtune-preprocess` writes and the tasks, CLIs and the
teacher cache read. No fairseq import: plain JSON and JSON-lines files.

  xtune.json               format, kind, languages, labels, sentence_pair, splits, model_dir
  meta/SPLIT.jsonl         one row per example of a split, in the binarized order (kind's row shape)
  meta/translations.jsonl  translate-train rows keyed by the id of the training example they translate
  sentencepiece.bpe.model  the model's, for per-epoch views
  views/NAME/              binarized views of the first epochs (added by xtune-preprocess views: views_layout)
Written in a temporary folder and renamed into place when complete (files.dir_in_progress).
"""

import contextlib
import json
import os
import shutil
from typing import Callable, Dict, Iterator, List, Optional

from xtune_fairseq.core.data.compact_rows import Codes, CompactRows, Ragged, Strings
from xtune_fairseq.core.data.readers import Example
from xtune_fairseq.core.data.tagged import TaggedSentence
from xtune_fairseq.core.data.translation_table import TranslationTable
from xtune_fairseq.core.data.views_layout import VIEWS_DIR
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir, dir_in_progress
from xtune_fairseq.core.progress import progress
from xtune_fairseq.core.qa.squad import QAExample
from xtune_fairseq.core.text import read_json, read_jsonl

INFO = "xtune.json"
KINDS = ("classification", "tagging", "qa")
TASK_OF_KIND = {"classification": "xtune_classification", "tagging": "xtune_sequence_labeling",
                "qa": "xtune_span_extraction"}
TRANSLATIONS = "translations"  # meta/translations.jsonl

DATA_DIR = OutputDir("a data directory written by xtune-preprocess", INFO,
                     frozenset({"input0", "input1", "label", "meta", "sentencepiece.bpe.model", INFO,
                                "views"}),  # views/: xtune-preprocess views (views_layout)
                     ".tmp-xtune-data-", nested=(("views", VIEWS_DIR),))  # each views/NAME by its views.json


def meta_path(data_dir: str, name: str) -> str:
    """meta/NAME.jsonl: NAME a split or TRANSLATIONS."""
    return os.path.join(data_dir, "meta", f"{name}.jsonl")


# --- xtune.json

def read_data_info(data_dir: str, required=("labels", "languages")) -> dict:
    """xtune.json; `required`: the lists it must hold (their readers would fail later, or miscount)."""
    path = os.path.join(data_dir, INFO)
    expected = "the xtune.json that xtune-preprocess writes (rerun it)"
    info = read_json(path, expected, f"{path} not found: is {data_dir} a directory written by xtune-preprocess?")
    if not isinstance(info, dict):
        raise InputError(f"{path}: a JSON {type(info).__name__}, not an object; expected {expected}")
    kind = info.get("kind", "classification")  # format 1 directories before tagging/qa have no kind
    if kind not in KINDS:
        raise InputError(f"{path}: kind {kind!r} is not one of {', '.join(KINDS)}; expected {expected}")
    for key in required:
        if key not in info:
            raise InputError(f"{path}: no {key!r} entry; expected {expected}")
        if not isinstance(info[key], list) or not all(isinstance(x, str) for x in info[key]):
            raise InputError(f"{path}: {key!r} is not a list of strings; expected {expected}")
    return info


def data_kind(data_dir: str) -> str:
    return read_data_info(data_dir, required=()).get("kind", "classification")


def write_data_info(work: str, model_dir: str, kind: str, data: dict, labels, sentence_pair: bool,
                    extra: Optional[dict] = None) -> None:
    """extra: the kind's own entries (QA: core.qa.windows.INFO_KEY)."""
    languages = sorted({ex.lang for examples in data.values() for ex in examples})
    with open(os.path.join(work, INFO), "w") as f:
        json.dump({"format": 1, "kind": kind, "languages": languages, "labels": list(labels),
                   "sentence_pair": sentence_pair, "splits": sorted(data), "model_dir": os.path.abspath(model_dir),
                   **(extra or {})}, f, indent=1)


# --- meta/*.jsonl rows, one shape per kind

def example_row(ex: Example) -> dict:
    return {"id": ex.id, "lang": ex.lang, "texts": list(ex.texts), "label": ex.label}


def tagged_row(s: TaggedSentence) -> dict:
    return {"id": s.id, "lang": s.lang, "words": list(s.words), "tags": None if s.tags is None else list(s.tags)}


def qa_row(ex: QAExample) -> dict:
    return {"id": ex.id, "lang": ex.lang, "question": ex.question, "context": ex.context,
            "answers": [list(a) for a in ex.answers]}


def write_jsonl(path, rows, total: Optional[int] = None) -> int:
    """The rows, one JSON object a line; returns how many. A progress line on stderr every few seconds
    (core/progress.py): rows read from a big file are read as they are written here."""
    n = 0
    name = os.path.basename(path)[: -len(".jsonl")] if path.endswith(".jsonl") else os.path.basename(path)
    with open(path, "w", encoding="utf-8") as f:
        for row in progress(rows, f"[preprocess] {name}: wrote", total):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def example_of(r: dict) -> Example:
    return Example(r["id"], r["lang"], tuple(r["texts"]), r.get("label"))


def tagged_of(r: dict) -> TaggedSentence:
    return TaggedSentence(r["id"], r["lang"], tuple(r["words"]), None if r["tags"] is None else tuple(r["tags"]))


def qa_of(r: dict) -> QAExample:
    return QAExample(str(r["id"]), r["lang"], r["question"], r["context"],
                     tuple((str(t), int(s)) for t, s in r["answers"]))


ROW_OF: Dict[str, Callable[[dict], object]] = {"classification": example_of, "tagging": tagged_of, "qa": qa_of}


def read_examples(path: str) -> List[Example]:
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: rerun xtune-preprocess")
    return list(iter_examples(path))


def _meta_rows(path: str, row_of: Callable[[dict], object], rerun: str) -> Iterator:
    """row_of(each row) of a meta/*.jsonl file; a line that is not one of its rows (not JSON, or the
    last line cut short by an interrupted copy) ends in one line naming the file and line."""
    expected = f"one JSON row a line as {rerun} writes them (rerun it)"
    for lineno, r in read_jsonl(path, expected, f"{path} not found: rerun {rerun}"):
        try:
            if not isinstance(r, dict):
                raise TypeError(f"a JSON {type(r).__name__}, not an object")
            yield row_of(r)
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{lineno}: not a row of {rerun} ({type(e).__name__}: {e}); "
                             f"expected {expected}") from None


def iter_examples(path: str) -> Iterator[Example]:
    """read_examples' rows one at a time (hashing millions of translations needs no list of them)."""
    return _meta_rows(path, example_of, "xtune-preprocess")


def read_tagged_meta(path: str) -> List[TaggedSentence]:
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: rerun xtune-preprocess --kind tagging")
    return list(_meta_rows(path, tagged_of, "xtune-preprocess --kind tagging"))


def _fields(path: str, names, rerun: str) -> list:
    """One list per named field of a meta file's rows (a missing field: None)."""
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: rerun {rerun}")
    columns = [[] for _ in names]
    for values in _meta_rows(path, lambda r: [r.get(name) for name in names], rerun):
        for column, value in zip(columns, values):
            column.append(value)
    return columns


def read_example_rows(path: str) -> CompactRows:
    """read_examples' rows (equal Examples) in flat buffers: a training set's form, which forked
    loader workers share instead of copying (compact_rows)."""
    ids, langs, texts, labels = _fields(path, ("id", "lang", "texts", "label"), "xtune-preprocess")
    return CompactRows(Example, [Strings.of(ids), Codes(langs), Ragged(texts), Codes(labels)])


def read_tagged_rows(path: str) -> CompactRows:
    """read_tagged_meta's rows (equal TaggedSentences) in flat buffers (compact_rows)."""
    ids, langs, words, tags = _fields(path, ("id", "lang", "words", "tags"), "xtune-preprocess --kind tagging")
    return CompactRows(TaggedSentence, [Strings.of(ids), Codes(langs), Ragged(words), Ragged(tags, Codes)])


def read_qa_meta(path: str) -> List[QAExample]:
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: rerun xtune-preprocess --kind qa")
    return list(_meta_rows(path, qa_of, "xtune-preprocess --kind qa"))


# --- translation tables: {training id: [its translations]}

def read_translation_table(path: str, kind: str = "classification") -> TranslationTable:
    """meta/translations.jsonl, memory-mapped and parsed row by row when read (data/translation_table.py)."""
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: rerun xtune-preprocess with --translations")
    return TranslationTable(path, ROW_OF[kind])


# --- writing a data directory

@contextlib.contextmanager
def data_dir_in_progress(dest: str, inputs=(), force: bool = False):
    """A temporary folder (with meta/) next to dest, swapped into place when the block completes
    (files.dir_in_progress); dest may not be an input, a file or a folder of someone else's."""
    with dir_in_progress(dest, "--out", DATA_DIR, inputs, force) as work:
        os.makedirs(os.path.join(work, "meta"))
        yield work


def finish_data_dir(work: str, model_dir: str, kind: str, data: dict, labels, sentence_pair=False,
                    label_dict: bool = False, extra: Optional[dict] = None) -> None:
    """The model's sentencepiece model and xtune.json; with label_dict, also input0/dict.txt (the
    model's) and label/dict.txt, which fairseq's task setup reads when nothing was binarized."""
    if label_dict:
        for sub in ("input0", "label"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        shutil.copyfile(os.path.join(model_dir, "dict.txt"), os.path.join(work, "input0", "dict.txt"))
        with open(os.path.join(work, "label", "dict.txt"), "w", encoding="utf-8") as f:
            f.writelines(f"{name} 1\n" for name in labels)
    shutil.copyfile(os.path.join(model_dir, "sentencepiece.bpe.model"), os.path.join(work, "sentencepiece.bpe.model"))
    write_data_info(work, model_dir, kind, data, labels, sentence_pair, extra)
