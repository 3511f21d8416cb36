"""XTREME's files in (`xtune-preprocess --xtreme TASK DIR`): the files that google-research/xtreme's
scripts/download_data.sh (or the authors' copy in microsoft/unilm xtune/) leaves in DIR, and with
translations the xtreme_translations folder, through the same writers as --train/--valid/--test
(classification.py, tagging.py, qa.py). Where the files are and how they are written:
core/data/xtreme.py; their readers: core/data/xtreme_read.py.
"""

import functools
import json
import os
import sys
from typing import List, Optional, Sequence, Set, Tuple

from xtune_fairseq.core.data import xtreme, xtreme_read
from xtune_fairseq.core.data.readers import LanguageCodes
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.xlmr_dir import check_model_dir
from xtune_fairseq.prepare.classification import write_classification
from xtune_fairseq.prepare.qa import read_split as read_qa_split, write_qa
from xtune_fairseq.prepare.tagging import write_tagging


def preprocess_xtreme(name: str, root: str, model_dir: str, dest: str, translations: Optional[str] = None,
                      languages: Optional[Sequence[str]] = None, workers: int = 1, force: bool = False,
                      notes: Optional[List[str]] = None, qa_word_split: Optional[str] = None) -> str:
    """name: an XTREME task (xtreme.TASKS); root: its download folder; translations: the
    xtreme_translations folder; languages: dev/test languages to keep (default all); qa_word_split:
    QA tasks' words (prepare/qa.py, default whitespace);
    notes: collects what was left out or decided (printed to stderr when not given). Returns dest.
    Test files without labels (XTREME's own download) are kept, unlabelled: evaluation predicts them
    in XTREME's submission layout and scores the rest (evaluation/submission.py)."""
    check_model_dir(model_dir)
    shown, notes = notes is None, [] if notes is None else notes
    kind = xtreme.task(name).kind
    files, bare = _labelled(name, xtreme.keep_languages(xtreme.task_files(name, root), languages), kind, notes)
    langs = sorted({lang for split in ("valid", "test") for lang, _ in files[split]})
    tr = xtreme.translation_files(name, translations, langs) if translations else None
    inputs = [model_dir] + [path for paths in list(files.values()) + [tr or []] for _, path in paths]
    if qa_word_split and kind != "qa":
        raise InputError(f"--qa-word-split goes with QA data; --xtreme {name} is {kind} data")
    write = {"classification": _classification, "tagging": _tagging,
             "qa": functools.partial(_qa, word_split=qa_word_split or "whitespace")}[kind]
    dest = write(name, model_dir, dest, files, bare, tr, langs, notes, inputs, workers, force)
    unlabelled = sorted(lang for lang, path in files["test"] if path in bare)
    with atomic_open(os.path.join(dest, "meta", xtreme.MARKER)) as f:  # the task's name: its submission folder
        json.dump({"task": name, "unlabelled": {"test": unlabelled} if unlabelled else {}}, f, indent=1)
    found, missing = xtreme.dictionary_paths(root, langs)
    if found:
        notes.append(f"code-switch dictionaries of these languages: --code-switch-dicts {','.join(found)}"
                     + (f" (none in {root}/dicts for {', '.join(missing)})" if missing else ""))
    if shown:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return dest


def _labelled(name: str, files: xtreme.Files, kind: str, notes: list) -> Tuple[xtreme.Files, Set[str]]:
    """(files, the paths without labels). XTREME's download removes the labels of test sets: those stay
    test sets, predicted and not scored; training and dev data need labels. TyDiQA-GoldP's dev files are
    its test set and, where labelled (the authors' download), its dev set; where none is, checkpoints are
    selected on English training questions held out (_tydiqa_valid)."""
    bare = {path for paths in files.values() for _, path in paths if not xtreme.is_labelled(path, kind)}
    out = dict(files)
    if name == "tydiqa":
        out["valid"] = [(lang, path) for lang, path in files["valid"] if path not in bare]
        notes.append("TyDiQA-GoldP has no held-out dev set: its dev files are the test split" +
                     (" and, those with answers, the valid split, as in the authors' run_qa.py" if out["valid"] else ""))
    for split in ("train", "valid"):
        found = [path for _, path in out[split] if path in bare]
        if found:
            raise InputError(f"{found[0]}: no labels ({split} data needs them); XTREME's download_data.sh removes those "
                             "of test sets only, the authors' (microsoft/unilm xtune/scripts/download_data.sh) keeps them")
    test_bare = [path for _, path in files["test"] if path in bare]
    if test_bare:
        notes.append(f"{len(test_bare)} of {len(files['test'])} test file(s) without labels (XTREME's download removes "
                     f"them), e.g. {test_bare[0]}: kept as test data, predicted in XTREME's submission layout, not scored")
    return out, bare


def _classification(name, model_dir, dest, files, bare, tr, langs, notes, inputs, workers, force):
    codes = LanguageCodes()
    data = {"train": xtreme_read.read_pair_files(files["train"], "train", xtreme.task(name).labels or None, codes,
                                                 notes)}
    labels = sorted({ex.label for ex in data["train"]})
    for split in ("valid", "test"):
        labelled = [(lang, p) for lang, p in files[split] if p not in bare]
        unlabelled = [(lang, p) for lang, p in files[split] if p in bare]
        rows = xtreme_read.read_pair_files(labelled, split, labels, codes, notes) if labelled else []
        rows += xtreme_read.read_unlabelled_pairs(unlabelled, split, codes, notes) if unlabelled else []
        if rows:
            data[split] = rows
    trans = xtreme_read.iter_pair_translations(tr, data["train"], codes, notes) if tr else None
    return write_classification(model_dir, dest, data, labels, trans, inputs, workers, force)


def _tagging(name, model_dir, dest, files, bare, tr, langs, notes, inputs, workers, force):
    codes = LanguageCodes()
    data = {"train": xtreme_read.read_tagged_files(files["train"], "train", languages=codes)}
    labels = sorted({t for s in data["train"] for t in s.tags})
    for split in ("valid", "test"):
        labelled = [(lang, p) for lang, p in files[split] if p not in bare]
        unlabelled = [(lang, p) for lang, p in files[split] if p in bare]
        rows = xtreme_read.read_tagged_files(labelled, split, labels, codes) if labelled else []
        rows += xtreme_read.read_unlabelled_words(unlabelled, split, codes) if unlabelled else []
        if rows:
            data[split] = rows
    trans = xtreme_read.read_tagged_translations(tr[0][1], data["train"], codes, set(langs), notes) if tr else {}
    return write_tagging(model_dir, dest, data, labels, trans, inputs, force)


def _qa(name, model_dir, dest, files, bare, tr, langs, notes, inputs, workers, force, word_split="whitespace"):
    codes = LanguageCodes()
    if name == "tydiqa":
        train = xtreme_read.read_tydiqa_train(files["train"][0][1], codes)
    else:
        train = read_qa_split(files["train"], require_answers=True, unique_ids=True, languages=codes)
    data = {"train": train}
    for split in ("valid", "test"):
        if files[split]:
            data[split] = xtreme_read.read_qa_test(files[split], bare, codes)
    if name == "tydiqa" and not files["valid"]:
        data["train"], data["valid"] = xtreme_read.hold_out(train, xtreme.TYDIQA_HELD_OUT)
        notes.append(f"no TyDiQA-GoldP dev file has answers (XTREME's download removes them): checkpoints are selected "
                     f"on {len(data['valid'])} English training questions held out from training (every "
                     f"{xtreme.TYDIQA_HELD_OUT}th passage), {len(data['train'])} are trained on")
    trans = xtreme_read.read_qa_translations(tr, data["train"], codes, by_id=name != "tydiqa", notes=notes) if tr else {}
    return write_qa(model_dir, dest, data, trans, inputs, force, word_split)
