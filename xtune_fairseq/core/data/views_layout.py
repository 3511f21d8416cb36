"""Binarized views (`xtune-preprocess views`): the views of a training set's first N epochs, drawn
ahead with a run's flags and binarized beside the originals. No fairseq import: the layout, and
the fingerprint that says which run's views they are.

  DATA/views/NAME/
    views.json                 epochs, rows, the roles stored, and the fingerprint (every flag and
                               file the views depend on: a training run reads them only when equal)
    epochE/augmented.{bin,idx} A's view of training row n+j at index j (rows n.. are D_A's copies)
    epochE/partner.{bin,idx}   the R1 view (A* or A') of training row i at index i
    epochE/ROLE.words.{bin,idx}  tagging: the word of every token of that view
    epochE/ROLE.translation.npy  an MT role: which translation of the row's example (k; -1 none)
    translations.{bin,idx}     MT: every translation's view, binarized once, by training example
    translations.first.npy     MT: the first translations row of each training example (-1: none)
The .bin/.idx pairs are fairseq indexed datasets (mmap), as fairseq-preprocess writes input0/.
Written in a temporary folder and renamed into place when complete (files.dir_in_progress).
"""

import json
import os
import re
from enum import Enum
from typing import Mapping, Optional

from xtune_fairseq.core.augment.registry import AUGMENTATION_REGISTRY, get_augmentation
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir
from xtune_fairseq.core.ownership import file_sha256

VIEWS = "views"
INFO = "views.json"
FORMAT = 1
AUGMENTED, PARTNER = "augmented", "partner"  # A on rows n.., A* / A' on every row
# the kinds whose views are worth storing are `storable` (sampled or tokenized: ss, cs, mt); none, gn
# and dropout reuse the original ids


class _Names(frozenset):
    """The top-level entries of a views folder: fixed names and any number of epochE folders."""

    def __contains__(self, name) -> bool:
        return super().__contains__(name) or re.fullmatch(r"epoch[1-9][0-9]*", str(name)) is not None


VIEWS_DIR = OutputDir("a views folder written by xtune-preprocess views", INFO,
                      _Names({INFO, "translations.bin", "translations.idx", "translations.words.bin",
                              "translations.words.idx", "translations.first.npy"}), ".tmp-xtune-views-")

# the task flags that decide the drawn views (others, e.g. --noise-std, act in the model), besides
# each kind's `settings` and `setting_files`
ALWAYS = ("seed", "data_augmentation", "r1_augmentation", "max_positions", "init_token", "separator_token")
VIEW_SETTINGS = ALWAYS + tuple(n for a in AUGMENTATION_REGISTRY.values() for n in a.settings) + (
    "augmented_ratio",) + tuple(n for a in AUGMENTATION_REGISTRY.values() for n in a.setting_files)
# the data files views are drawn from; the sentencepiece model and dict.txt make every view's ids (and
# each kind's `data_files`: MT's translations)
DATA_FILES = ("meta/train.jsonl", "sentencepiece.bpe.model", "input0/dict.txt")


def views_dir(data_dir: str, name: str) -> str:
    if not name or os.sep in name or name in (".", ".."):
        raise InputError(f"--binarized-views / --name {name!r}: expected a plain folder name under {data_dir}/{VIEWS}/")
    return os.path.join(data_dir, VIEWS, name)


def role_prefix(folder: str, epoch: int, role: str) -> str:
    """Path prefix of one role's views of one epoch (fairseq's indexed datasets take prefixes)."""
    return os.path.join(folder, f"epoch{epoch}", role)


def translations_prefix(folder: str) -> str:
    return os.path.join(folder, "translations")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def stores_choice(kind: str) -> bool:
    """Whether a role's views are stored as the fixed input each row chose (MT: which translation),
    the inputs themselves once, rather than as token ids per row."""
    return bool(kind) and get_augmentation(kind).fixed_input


def fingerprint(kind: str, settings: Mapping, data_dir: str) -> dict:
    """{flag or data file: value or sha256} of everything a run's drawn views depend on.

    settings: the task's flag values by attribute name (VIEW_SETTINGS). A flag that cannot change the
    views of these kinds is left out, so it may differ freely (e.g. --subword-alpha under code-switch)."""
    settings = {k: v.value if isinstance(v, Enum) else v for k, v in settings.items()}  # fairseq's ChoiceEnum
    kinds = [get_augmentation(k) for k in sorted({settings["data_augmentation"], settings["r1_augmentation"]})]
    names = [n for n in ALWAYS if settings.get(n) is not None]
    if get_augmentation(settings["data_augmentation"]).makes_views:  # which rows are copied
        names.append("augmented_ratio")
    names += [n for a in kinds for n in a.settings]
    out = {"task kind": kind, **{flag(n): settings[n] for n in names}}
    for n in (n for a in kinds for n in a.setting_files):  # contents and order, not paths: a moved file is the same one
        out[flag(n)] = [file_sha256(p) for p in settings[n].split(",") if p]
    files = DATA_FILES + tuple(f for a in kinds for f in a.data_files)
    for rel in files:
        path = os.path.join(data_dir, rel)
        out[rel] = file_sha256(path) if os.path.isfile(path) else None
    return out


FILE_FLAGS = {flag(n) for a in AUGMENTATION_REGISTRY.values() for n in a.setting_files}


def check_fingerprint(folder: str, recorded: Mapping, expected: Mapping) -> None:
    """Refuses views drawn with other flags or data than this run's, naming the first difference."""
    for key in list(expected) + [k for k in recorded if k not in expected]:
        was, now = recorded.get(key), expected.get(key)
        if was == now:
            continue
        if key in FILE_FLAGS:
            why = f"views drawn with other {key} (contents or order differ from this run's)"
        elif key.startswith("--") or key == "task kind":
            why = f"views drawn with {key} {_shown(was)}, this run has {_shown(now)}"
        else:
            why = f"{key} changed since the views were drawn"
        raise InputError(f"{folder}: {why}; rerun xtune-preprocess views with this run's flags, or leave out "
                         "--binarized-views")


def _shown(value) -> str:
    return "(not set)" if value is None else str(value)


def disk_bytes(folder: str, epochs: int, roles: Mapping[str, str]) -> dict:
    """Bytes per epoch of each role's stored views, and of the translations (stored once)."""
    def size(prefix):
        where, stem = os.path.split(prefix)
        return sum(os.path.getsize(os.path.join(where, f)) for f in os.listdir(where) if f.startswith(stem + "."))

    out = {role: sum(size(role_prefix(folder, e, role)) for e in range(1, epochs + 1)) // epochs for role in roles}
    if any(stores_choice(k) for k in roles.values()):
        out["translations (once)"] = size(translations_prefix(folder))
    return out


def read_views_info(folder: str) -> dict:
    path = os.path.join(folder, INFO)
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: write the views with `xtune-preprocess views DATA --name "
                         f"{os.path.basename(folder)} --epochs N` and the run's flags")
    with open(path) as f:
        info = json.load(f)
    if info.get("format") != FORMAT:
        raise InputError(f"{path}: views format {info.get('format')}, this version reads {FORMAT}; rewrite them")
    return info


def write_views_info(folder: str, epochs: int, rows: int, originals: int, roles: Mapping[str, str],
                     word_maps: bool, fp: Mapping, sizes: Optional[Mapping] = None) -> None:
    with open(os.path.join(folder, INFO), "w") as f:
        json.dump({"format": FORMAT, "epochs": epochs, "rows": rows, "original_rows": originals,
                   "roles": dict(roles), "word_maps": word_maps, "fingerprint": dict(fp),
                   "bytes": dict(sizes or {})}, f, indent=1)
