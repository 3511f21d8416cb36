"""Code-switch substitution (paper 3.2.3) with MUSE-format bilingual dictionaries."""

import os
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np

from xtune_fairseq.errors import InputError

Dictionary = Dict[str, List[str]]

# leading / trailing punctuation is kept around the switched word ("good," -> "gut,")
_AFFIX = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)


def load_muse_dictionary(path: str) -> Dictionary:
    """Reads `src<TAB or space>tgt` lines (several lines per source word allowed).

    Keys are lower-cased; a tab-separated line may hold a multi-word target.
    """
    if not os.path.isfile(path):
        raise InputError(f"{path}: bilingual dictionary not found")
    table: Dictionary = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise InputError(
                    f"{path}:{lineno}: expected 'source<TAB>target' or 'source target', got {line!r}"
                )
            src, tgt = fields[0].strip().lower(), fields[1].strip()
            cands = table.setdefault(src, [])
            if tgt not in cands:
                cands.append(tgt)
    if not table:
        raise InputError(f"{path}: bilingual dictionary is empty")
    return table


def load_muse_dictionaries(paths: Sequence[str]) -> Dict[str, Dictionary]:
    """`en-de.txt` -> {"de": {...}}: the target language is the part after the last '-'."""
    out: Dict[str, Dictionary] = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        if "-" not in stem:
            raise InputError(f"{path}: dictionary file names must look like en-XX.txt")
        out[stem.rsplit("-", 1)[1]] = load_muse_dictionary(path)
    return out


class CodeSwitcher:
    """Replaces each word with probability `ratio` by a dictionary translation.

    The target language is drawn per word among the dictionaries given; a word without
    an entry stays as it is. single_word_only skips multi-word targets so that the word
    count never changes (needed when labels are per word).
    """

    def __init__(self, dictionaries: Dict[str, Dictionary], ratio: float = 0.3, single_word_only: bool = False):
        if not dictionaries:
            raise ValueError("code-switch needs at least one bilingual dictionary")
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"code-switch ratio must be in [0, 1], got {ratio}")
        self.langs = sorted(dictionaries)
        self.dictionaries = dictionaries
        self.ratio = ratio
        self.single_word_only = single_word_only

    def __call__(self, words: Sequence[str], rng: np.random.Generator) -> Tuple[List[str], List[bool]]:
        out, switched = [], []
        for word in words:
            new = word
            if rng.random() < self.ratio:
                lang = self.langs[rng.integers(len(self.langs))]
                pre, core, post = _AFFIX.match(word).groups()
                cands = self.dictionaries[lang].get(core.lower(), [])
                if self.single_word_only:
                    cands = [c for c in cands if len(c.split()) == 1]
                if core and cands:
                    new = pre + cands[rng.integers(len(cands))] + post
            out.append(new)
            switched.append(new != word)
        return out, switched
