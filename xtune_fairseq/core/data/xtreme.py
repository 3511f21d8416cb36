"""Where XTREME's downloads put each task's files and how they are written: file names, column maps
and the rewrites the readers need (data/xtreme_read.py). No fairseq import.

Sources: google-research/xtreme scripts/download_data.sh + utils_preprocess.py (the authors' copy:
microsoft/unilm xtune/scripts/download_data.sh + xtune/utils_preprocess.py, which keeps the test
labels and writes TSVs unquoted), the translations the authors' xtune/README.md places in
download/xtreme_translations/ (paths from their scripts/translate-train-all/*.sh and run_*.py).

  DIR/ (the folder `bash scripts/download_data.sh` fills, `download/`)
    xnli/ pawsx/       {train,dev,test}-LANG.tsv   sentence1 TAB sentence2 TAB label, no header
    udpos/ panx/       {train,dev,test}-LANG.tsv   word TAB tag, a blank line between sentences
    panx_dataset/      LANG-{train,dev,test}       raw WikiANN, 'LANG:word TAB tag' (panx/ preferred)
    squad/             train-v1.1.json dev-v1.1.json   (or TASK/squad1.1/, where the authors copy it)
    xquad/             xquad.LANG.json
    mlqa/MLQA_V1/      {dev,test}/{dev,test}-context-LANG-question-LANG.json
    tydiqa/            tydiqa-goldp-v1.1-train/tydiqa-goldp-v1.1-train.json,
                       tydiqa-goldp-v1.1-dev/tydiqa.goldp.LANG.dev.json (authors': tydiqa.LANG.dev.json)
    xtreme_translations/   see TASKS; dicts/en-LANG.txt: MUSE dictionaries (the authors' --dict_dir)
XTREME's own download removes test labels (TSV: no label column; tagging: words only; SQuAD
JSON: every answer {"answer_start": 0, "text": ""}, TyDiQA-GoldP's dev files too): such files stay
test data without labels, predicted in XTREME's submission layout (evaluation/submission.py).
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError

Files = Dict[str, List[Tuple[str, str]]]  # split (train, valid, test) -> [(lang, path)]


@dataclass(frozen=True)
class Task:
    kind: str
    folder: str
    translations: str  # under xtreme_translations/; {lang}: one file per language
    labels: Tuple[str, ...] = ()  # a classification task's labels (LABEL_ALIASES applied): others are refused


TASKS = {
    "xnli": Task("classification", "xnli", "XNLI/translate-train/en-{lang}-translated.tsv",
                 ("contradiction", "entailment", "neutral")),
    "pawsx": Task("classification", "pawsx", "PAWSX/translate-train/en-{lang}-translated.tsv", ("0", "1")),
    "udpos": Task("tagging", "udpos", "translate_train.udpos.txt"),
    "panx": Task("tagging", "panx", "translate_train.panx.txt"),
    "xquad": Task("qa", "xquad", "SQuAD/translate-train/squad.translate.train.en-{lang}.json"),
    "mlqa": Task("qa", "mlqa", "SQuAD/translate-train/squad.translate.train.en-{lang}.json"),
    "tydiqa": Task("qa", "tydiqa", "TyDiQA-GoldP/translate-train/tydiqa.translate.train.en-{lang}.json"),
}
SOURCE = "en"  # cross-lingual transfer: English training data
PAIR_COLUMNS = ("sentence1", "sentence2", "label")  # XNLI / PAWS-X task files; XTREME's test: no label
TRANSLATION_COLUMNS = ("source1", "source2", "sentence1", "sentence2", "label")  # translate-train TSVs
LABEL_ALIASES = {"contradictory": "contradiction"}  # MultiNLI's spelling, mapped as XTREME and the authors do
# the authors' tagging MT leaves these target languages out (src/run_tag.py: drop_languages)
TAGGING_MT_SKIPPED = ("en", "zh-CN", "zh", "ja", "ko", "th", "my", "ml", "ta")
TYDIQA_TRAIN = "tydiqa-goldp-v1.1-train/tydiqa-goldp-v1.1-train.json"
TYDIQA_SOURCE_ID = "english-"  # its ids: LANGUAGE-DOCHASH-N; XTREME's per-language files keep only N
TYDIQA_HELD_OUT = 10  # no dev file with answers (XTREME's download): every 10th English passage selects checkpoints
MARKER = "xtreme.json"  # meta/xtreme.json of a data directory made from XTREME's files: its task's name

_LANG = r"([A-Za-z][A-Za-z0-9_-]*?)"
_TSV = re.compile(rf"^(train|dev|test)-{_LANG}\.tsv$")
_RAW_PANX = re.compile(rf"^{_LANG}-(train|dev|test)$")
_XQUAD = re.compile(rf"^xquad\.{_LANG}\.json$")
_MLQA = re.compile(rf"^(dev|test)-context-{_LANG}-question-\2\.json$")
_TYDIQA_DEV = re.compile(rf"^tydiqa\.(?:goldp\.)?{_LANG}\.dev\.json$")
_SPLIT = {"train": "train", "dev": "valid", "test": "test"}
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def task(name: str) -> Task:
    if name not in TASKS:
        raise InputError(f"--xtreme {name!r}: expected one of {', '.join(TASKS)}")
    return TASKS[name]


def _folder(root: str, *parts: str) -> str:
    path = os.path.join(root, *parts)
    if not os.path.isdir(path):
        raise InputError(f"{path}: not found; expected the folder that google-research/xtreme's "
                         f"scripts/download_data.sh fills (download/), holding {parts[0]}/")
    return path


def _scan(folder: str, pattern, split_group: int, lang_group: int) -> Files:
    files: Files = {"train": [], "valid": [], "test": []}
    for name in sorted(os.listdir(folder)):
        m = pattern.match(name)
        if m:
            files[_SPLIT[m.group(split_group)]].append((m.group(lang_group), os.path.join(folder, name)))
    return files


def _by_language(folder: str, pattern) -> List[Tuple[str, str]]:
    return [(m.group(1), os.path.join(folder, n)) for n in sorted(os.listdir(folder)) for m in [pattern.match(n)] if m]


def _squad(root: str, folder: str, name: str) -> str:
    places = [os.path.join(root, "squad", name), os.path.join(root, folder, "squad1.1", name)]
    found = next((p for p in places if os.path.isfile(p)), None)
    if found is None:
        raise InputError(f"{places[0]}: not found (nor {places[1]}); expected SQuAD v1.1, which "
                         "download_data.sh puts in download/squad/")
    return found


def task_files(name: str, root: str) -> Files:
    """{train, valid, test: [(lang, path)]}: English training data; dev and test in every language."""
    files = _task_files(name, root)
    if not files["valid"]:
        raise InputError(f"{os.path.join(root, task(name).folder)}: no dev files; expected XTREME's {name} layout "
                         "(data/xtreme.py) as download_data.sh writes it")
    return files


def _task_files(name: str, root: str) -> Files:
    t = task(name)
    if t.kind != "qa":
        raw = t.folder == "panx" and not os.path.isdir(os.path.join(root, "panx"))
        folder = _folder(root, "panx_dataset" if raw else t.folder)
        files = _scan(folder, _RAW_PANX, 2, 1) if raw else _scan(folder, _TSV, 1, 2)
        files["train"] = [(lang, p) for lang, p in files["train"] if lang == SOURCE]
        if not files["train"]:
            raise InputError(f"{folder}: no {'en-train' if raw else 'train-en.tsv'}; expected XTREME's {name} "
                             f"files ({'LANG-SPLIT' if raw else 'SPLIT-LANG.tsv'}) as download_data.sh writes them")
        return files
    if name == "tydiqa":
        folder = _folder(root, t.folder)
        train = os.path.join(folder, TYDIQA_TRAIN)
        if not os.path.isfile(train):
            raise InputError(f"{train}: not found; XTREME's download keeps this all-language file next to "
                             "tydiqa.goldp.en.train.json, whose question ids repeat")
        test = _by_language(_folder(root, t.folder, "tydiqa-goldp-v1.1-dev"), _TYDIQA_DEV)
        # no held-out dev set: the dev files serve both, as in the authors' run_qa.py
        return {"train": [(SOURCE, train)], "valid": test, "test": list(test)}
    train = [(SOURCE, _squad(root, t.folder, "train-v1.1.json"))]
    if name == "xquad":
        test = _by_language(_folder(root, "xquad"), _XQUAD)
        return {"train": train, "valid": [(SOURCE, _squad(root, t.folder, "dev-v1.1.json"))], "test": test}
    files = {"train": train, "valid": [], "test": []}
    for split in ("dev", "test"):
        found = _scan(_folder(root, "mlqa", "MLQA_V1", split), _MLQA, 1, 2)
        files[_SPLIT[split]] = found[_SPLIT[split]]
    return files


def keep_languages(files: Files, languages: Optional[Sequence[str]]) -> Files:
    """Dev and test files of the given languages (all when None); a missing one is an error."""
    if not languages:
        return files
    present = sorted({lang for split in ("valid", "test") for lang, _ in files[split]})
    missing = [lang for lang in languages if lang not in present]
    if missing:
        raise InputError(f"--languages: no dev or test files for {missing}; found {present}")
    return {split: paths if split == "train" else [(lang, p) for lang, p in paths if lang in languages]
            for split, paths in files.items()}


def translation_files(name: str, tr_root: str, languages: Sequence[str]) -> List[Tuple[str, str]]:
    """[(lang, path)] of the task's translate-train files (one (None, path) for tagging's single file)."""
    pattern = os.path.join(tr_root, task(name).translations)
    if "{lang}" not in pattern:
        if not os.path.isfile(pattern):
            raise InputError(f"{pattern}: not found; expected the authors' tagging translations in xtreme_translations/")
        return [(None, pattern)]
    found = [(lang, pattern.format(lang=lang)) for lang in languages
             if lang != SOURCE and os.path.isfile(pattern.format(lang=lang))]
    if not found:
        raise InputError(f"{pattern.format(lang='LANG')}: none found for {', '.join(languages)}; expected XTREME's "
                         "translations (xtreme_translations/) as the authors' README places them")
    return found


def split_fields(lines: Sequence[str]) -> List[List[str]]:
    """Tab-separated fields of a file's lines. XTREME's utils_preprocess writes with csv.writer's
    default quoting (a field with `"` becomes `"..."` with `""` inside); the authors' copy writes
    unquoted. A file is unquoted as csv when every field holding `"` has the quoted form."""
    rows = [line.split("\t") for line in lines]
    with_quotes = [f for row in rows for f in row if '"' in f]
    if with_quotes and all(_QUOTED.fullmatch(f) for f in with_quotes):
        rows = [[f[1:-1].replace('""', '"') if _QUOTED.fullmatch(f) else f for f in row] for row in rows]
    return rows


def strip_language_prefix(words: List[Tuple[str, ...]]) -> List[Tuple[str, ...]]:
    """Raw WikiANN words carry their language ('en:Paris'); XTREME's utils_preprocess cuts each word
    at its first ':'. Cut here only when every word of the file has the same 'LANG:' prefix."""
    first = next((w for ws in words for w in ws), "")
    prefix = first[: first.find(":") + 1] if ":" in first[1:] else ""
    if not prefix or not all(w.startswith(prefix) and len(w) > len(prefix) for ws in words for w in ws):
        return words
    return [tuple(w[len(prefix):] for w in ws) for ws in words]


def is_labelled(path: str, kind: str) -> bool:
    """False for the test files of XTREME's own download, whose labels it removes."""
    if kind == "qa":
        return not _answers_removed(path)
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        line = next((line.rstrip("\r\n") for line in f if line.strip() and not line.startswith("-DOCSTART-")), "")
    fields = split_fields([line])[0]
    return len(fields) != 2 if kind == "classification" else "\t" in line


def _answers_removed(path: str) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as f:
            qas = [qa for a in json.load(f)["data"] for p in a["paragraphs"] for qa in p["qas"]]
    except (ValueError, KeyError, TypeError):
        return False  # the SQuAD reader names what is wrong
    return bool(qas) and all(qa.get("answers") == [{"answer_start": 0, "text": ""}] for qa in qas)


def dictionary_paths(root: str, languages: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(found, missing languages) of the MUSE dictionaries DIR/dicts/en-LANG.txt of the task's languages."""
    folder = os.path.join(root, "dicts")
    targets = [lang for lang in languages if lang != SOURCE]
    found = [os.path.join(folder, f"en-{lang}.txt") for lang in targets]
    return [p for p in found if os.path.isfile(p)], [lang for lang, p in zip(targets, found) if not os.path.isfile(p)]
