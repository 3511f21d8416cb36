"""Predictions of test sets without labels (XTREME's download removes them) in XTREME's submission
layout, as google-research/xtreme's README ("Leaderboard Submission") and its mock_test_data/predictions
describe it and its evaluate.py --prediction_folder reads it:

  FOLDER/TASK/test-LANG.tsv    classification: a label a line, in the test file's order;
                               tagging: a tag a line per word, a blank line between sentences
  FOLDER/TASK/test-LANG.json   QA: {question id: answer text}

TASK is the XTREME task the data was made from (xtune-preprocess --xtreme writes it in
meta/xtreme.json). A language is scored when its examples have labels and only predicted when none
has; summary() says which was which in one line."""

import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from xtune_fairseq.core.data import xtreme
from xtune_fairseq.core.data.prepared import meta_path, read_data_info, read_examples, read_qa_meta, read_tagged_meta
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.qa.squad import write_predictions
from xtune_fairseq.core.text import read_json

FOLDER = "xtreme-submission"  # what xtune-pipeline writes in its run folder: FOLDER/stageK/TASK/test-LANG.*
SUFFIX = {"classification": "tsv", "tagging": "tsv", "qa": "json"}
NO_TAG = "O"  # a word cut off by --max-positions has no prediction: written as O (scored as O in entity F1)


def has_label(kind: str, gold) -> bool:
    """Whether a gold of predictions.predict() holds a label: a label index (IGNORE, negative: none),
    a sentence's tags (None: none), a QAExample's answers."""
    if kind == "classification":
        return gold is not None and gold >= 0
    if kind == "tagging":
        return gold is not None
    return bool(gold.answers)


def unlabelled_languages(kind: str, langs: Sequence[str], golds: Sequence) -> List[str]:
    """The languages none of whose examples has a label: predicted, not scored."""
    labelled = {lang for lang, gold in zip(langs, golds) if has_label(kind, gold)}
    return sorted(set(langs) - labelled)


def split_unlabelled(data: str, split: str) -> List[str]:
    """unlabelled_languages of a split of an xtune-preprocess directory, from its meta rows (no model)."""
    return split_labels(data, split)[1]


def split_labels(data: str, split: str) -> Tuple[List[str], List[str]]:
    """(its languages, those without labels) of a split of an xtune-preprocess directory (meta rows)."""
    kind = read_data_info(data, required=()).get("kind", "classification")
    path = meta_path(data, split)
    if kind == "classification":
        rows = [(ex.lang, 0 if ex.label is not None else None) for ex in read_examples(path)]
    elif kind == "tagging":
        rows = [(s.lang, s.tags) for s in read_tagged_meta(path)]
    else:
        rows = [(ex.lang, ex) for ex in read_qa_meta(path)]
    langs = [lang for lang, _ in rows]
    return sorted(set(langs)), unlabelled_languages(kind, langs, [gold for _, gold in rows])


def check_split(data: str, split: str, submission_dir: Optional[str] = None) -> List[str]:
    """The split is one of the data's, and has labels or gets a submission_dir (an InputError names the
    flag otherwise); returns its languages without labels (read once: a split's meta rows can be large)."""
    splits = read_data_info(data, required=()).get("splits", [split])
    if split not in splits:
        raise InputError(f"--split {split}: {data} has the splits {', '.join(splits)}; choose one of them")
    langs, unlabelled = split_labels(data, split)
    if langs == unlabelled and not submission_dir:
        raise InputError(f"--split {split}: no language of it has labels ({', '.join(langs)}: XTREME's test "
                         "sets), nothing to score; pass --submission-dir DIR to write their predictions in "
                         "XTREME's submission layout, or --split valid to score the dev sets")
    return unlabelled


def submission_folder(submission_dir: str, name: str, data: str) -> str:
    """Where checkpoint NAME's predictions of data's languages without labels go: SUBMISSION_DIR/NAME/TASK."""
    return os.path.join(submission_dir, name, xtreme_task(data))


def submission_files(submission_dir: str, names: Sequence[str], data: str, split: str,
                     langs: Sequence[str]) -> List[str]:
    """Every file evaluate(submission_dir=...) writes for the checkpoints `names` and languages `langs`."""
    kind = read_data_info(data, required=()).get("kind", "classification")
    return [os.path.join(submission_folder(submission_dir, name, data), _file_name(split, lang, kind))
            for name in names for lang in langs]


def _file_name(split: str, lang: str, kind: str) -> str:
    return f"{split}-{lang}.{SUFFIX[kind]}"


def xtreme_task(data: str) -> str:
    """The XTREME task of an xtune-preprocess --xtreme directory (meta/xtreme.json); else its kind."""
    path = os.path.join(data, "meta", xtreme.MARKER)
    if os.path.isfile(path):
        record = read_json(path, "the JSON record xtune-preprocess --xtreme writes ({\"task\": ...})")
        task = record.get("task") if isinstance(record, dict) else None
        if isinstance(task, str) and task:
            return task
    return read_data_info(data, required=()).get("kind", "classification")


def write_submission(folder: str, kind: str, split: str, langs: Sequence[str], preds: Sequence, golds: Sequence,
                     label_names: Sequence[str], only: Sequence[str]) -> Dict[str, str]:
    """{lang: file} of the predictions of the languages `only`, one file each in folder (submission_folder)
    named SPLIT-LANG.tsv / .json, examples in the split's order (predictions.predict's)."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for lang in only:
        picked = [(p, g) for l, p, g in zip(langs, preds, golds) if l == lang]
        path = os.path.join(folder, _file_name(split, lang, kind))
        if kind == "qa":
            write_predictions(path, {g.id: p for p, g in picked})
        else:
            with atomic_open(path, "w", encoding="utf-8") as f:
                f.write(_tsv(kind, [p for p, _ in picked], label_names))
        out[lang] = path
    return out


def _tsv(kind: str, preds: Sequence, label_names: Sequence[str]) -> str:
    if kind == "classification":
        return "".join(label_names[p] + "\n" for p in preds)
    return "\n".join("".join((t or NO_TAG) + "\n" for t in tags) for tags in preds)


def summary(by_split: Mapping[str, Mapping[str, dict]]) -> str:
    """One line: per split evaluated ({split: evaluate()'s results}), the languages scored and those
    only predicted (no labels), and where their predictions are."""
    scored, predicted = [], []
    for split, results in by_split.items():
        r = next(iter(results.values()), {})
        if r.get("per_language"):
            scored.append(f"{split} {_langs(sorted(r['per_language']))}")
        if r.get("unlabelled"):
            predicted.append(f"{split} {_langs(r['unlabelled'])}")
    where = ""
    if predicted:
        files = [p for r in (res for results in by_split.values() for res in results.values())
                 for p in r.get("submission", {}).values()]
        where = (f" -> {os.path.dirname(os.path.dirname(os.path.dirname(files[0])))}/NAME/"
                 f"{os.path.basename(os.path.dirname(files[0]))}/ (XTREME's submission layout)" if files
                 else " (not written: give a submission folder)")
    return (f"scored: {'; '.join(scored) or 'nothing (no labels)'} | predicted only, no labels: "
            f"{'; '.join(predicted) or 'nothing'}{where}")


def _langs(langs: Sequence[str]) -> str:
    return f"{','.join(langs)} ({len(langs)} language{'s' if len(langs) != 1 else ''})"
