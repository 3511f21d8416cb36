"""XTREME's files in (`xtune-preprocess --xtreme TASK DIR`): the files that google-research/xtreme's
scripts/download_data.sh (or the authors' copy in microsoft/unilm xtune/) leaves in DIR, and with
translations the xtreme_translations folder, through the same writers as --train/--valid/--test
(classification.py, tagging.py, qa.py). Where the files are and how they are written:
core/data/xtreme.py; their readers: core/data/xtreme_read.py.
"""

import sys
from typing import List, Optional, Sequence

from xtune_fairseq.core.data import xtreme, xtreme_read
from xtune_fairseq.core.data.readers import LanguageCodes
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.xlmr_dir import check_model_dir
from xtune_fairseq.prepare.classification import write_classification
from xtune_fairseq.prepare.qa import read_split as read_qa_split, write_qa
from xtune_fairseq.prepare.tagging import write_tagging


def preprocess_xtreme(name: str, root: str, model_dir: str, dest: str, translations: Optional[str] = None,
                      languages: Optional[Sequence[str]] = None, workers: int = 1, force: bool = False,
                      notes: Optional[List[str]] = None) -> str:
    """name: an XTREME task (xtreme.TASKS); root: its download folder; translations: the
    xtreme_translations folder; languages: dev/test languages to keep (default all);
    notes: collects what was left out or decided (printed to stderr when not given). Returns dest."""
    check_model_dir(model_dir)
    shown, notes = notes is None, [] if notes is None else notes
    kind = xtreme.task(name).kind
    files = _labelled(xtreme.keep_languages(xtreme.task_files(name, root), languages), kind, notes)
    if name == "tydiqa":
        notes.append("TyDiQA-GoldP has no held-out dev set: its dev files are both valid and test, as in the "
                     "authors' run_qa.py")
    langs = sorted({lang for split in ("valid", "test") for lang, _ in files[split]})
    tr = xtreme.translation_files(name, translations, langs) if translations else None
    inputs = [model_dir] + [path for paths in list(files.values()) + [tr or []] for _, path in paths]
    write = {"classification": _classification, "tagging": _tagging, "qa": _qa}[kind]
    dest = write(name, model_dir, dest, files, tr, langs, notes, inputs, workers, force)
    found, missing = xtreme.dictionary_paths(root, langs)
    if found:
        notes.append(f"code-switch dictionaries of these languages: --code-switch-dicts {','.join(found)}"
                     + (f" (none in {root}/dicts for {', '.join(missing)})" if missing else ""))
    if shown:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return dest


def _labelled(files: xtreme.Files, kind: str, notes: list) -> xtreme.Files:
    """XTREME's download removes the test labels: such test files are left out, other splits need labels."""
    out = dict(files)
    for split, paths in files.items():
        bare = [path for _, path in paths if not xtreme.is_labelled(path, kind)]
        if bare and split != "test":
            raise InputError(f"{bare[0]}: no labels ({split} data needs them); XTREME's download_data.sh removes those "
                             "of test sets, the authors' (microsoft/unilm xtune/scripts/download_data.sh) keeps them")
        if bare:
            out[split] = [(lang, path) for lang, path in paths if path not in bare]
            notes.append(f"{len(bare)} test file(s) without labels left out (XTREME's download removes them), e.g. "
                         f"{bare[0]}; the authors' download_data.sh keeps them"
                         + ("" if out[split] else "; no test split: evaluate with --eval-split valid"))
    return out


def _classification(name, model_dir, dest, files, tr, langs, notes, inputs, workers, force):
    codes = LanguageCodes()
    data = {"train": xtreme_read.read_pair_files(files["train"], "train", xtreme.task(name).labels or None, codes,
                                                 notes)}
    labels = sorted({ex.label for ex in data["train"]})
    for split in ("valid", "test"):
        if files[split]:
            data[split] = xtreme_read.read_pair_files(files[split], split, labels, codes, notes)
    trans = xtreme_read.iter_pair_translations(tr, data["train"], codes, notes) if tr else None
    return write_classification(model_dir, dest, data, labels, trans, inputs, workers, force)


def _tagging(name, model_dir, dest, files, tr, langs, notes, inputs, workers, force):
    codes = LanguageCodes()
    data = {"train": xtreme_read.read_tagged_files(files["train"], "train", languages=codes)}
    labels = sorted({t for s in data["train"] for t in s.tags})
    for split in ("valid", "test"):
        if files[split]:
            data[split] = xtreme_read.read_tagged_files(files[split], split, labels, codes)
    trans = xtreme_read.read_tagged_translations(tr[0][1], data["train"], codes, set(langs), notes) if tr else {}
    return write_tagging(model_dir, dest, data, labels, trans, inputs, force)


def _qa(name, model_dir, dest, files, tr, langs, notes, inputs, workers, force):
    codes = LanguageCodes()
    if name == "tydiqa":
        train = xtreme_read.read_tydiqa_train(files["train"][0][1], codes)
    else:
        train = read_qa_split(files["train"], require_answers=True, unique_ids=True, languages=codes)
    data = {"train": train}
    for split in ("valid", "test"):
        if files[split]:
            data[split] = read_qa_split(files[split], require_answers=False, unique_ids=False, languages=codes)
    trans = xtreme_read.read_qa_translations(tr, train, codes, by_id=name != "tydiqa", notes=notes) if tr else {}
    return write_qa(model_dir, dest, data, trans, inputs, force)
