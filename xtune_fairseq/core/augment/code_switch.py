"""Code-switch substitution (paper 3.2.3) with MUSE-format bilingual dictionaries."""

import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.registry import Augmentation, View, register_augmentation
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import open_text

Dictionary = Dict[str, List[str]]

# leading / trailing punctuation is kept around the switched word ("good," -> "gut,")
_AFFIX = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)
# MUSE names: en-de.txt, en-de.0-5000.txt (source words English, XX the language switched into)
_NAME = re.compile(r"en-([A-Za-z][\w-]*?)(?:\.|$)", re.IGNORECASE)


def load_muse_dictionary(path: str) -> Dictionary:
    """Reads `src<TAB or space>tgt` lines (several lines per source word allowed).

    Keys are lower-cased; a tab-separated line may hold a multi-word target.
    """
    table: Dictionary = {}
    # open_text drops a BOM, which would hide the first entry
    with open_text(path, "a UTF-8 MUSE dictionary, 'source<TAB>target' or 'source target' lines",
                   missing=f"{path}: bilingual dictionary not found") as f:
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


def dictionary_language(path: str) -> str:
    """`en-de.txt` -> "de". A reversed dictionary (de-en.txt) would look up English words among German
    keys and switch nothing, so the name must say English -> XX."""
    match = _NAME.match(os.path.basename(path))
    if match is None or match.group(1).lower() == "en":
        raise InputError(f"{path}: dictionary file names must look like en-XX.txt (English source words, "
                         "XX = the language switched into), e.g. en-de.txt or en-de.0-5000.txt")
    return match.group(1)


def load_muse_dictionaries(paths: Sequence[str]) -> Dict[str, Dictionary]:
    """`en-de.txt` -> {"de": {...}}. Two files for one language are refused: one would silently replace the other."""
    seen: Dict[str, str] = {}
    for path in paths:
        lang = dictionary_language(path)
        if lang in seen:
            raise InputError(f"--code-switch-dicts: {seen[lang]} and {path} are both dictionaries into {lang!r}; "
                             f"expected one file per target language (concatenate them into one)")
        seen[lang] = path
    return {lang: load_muse_dictionary(path) for lang, path in seen.items()}


def unmatched(dictionaries: Dict[str, Dictionary], texts: Iterable[str]) -> List[str]:
    """Languages whose dictionary has no entry for any word of `texts`: switching into them changes nothing."""
    left = set(dictionaries)
    for text in texts:
        for word in text.split():
            key = _AFFIX.match(word).group(2).lower()
            left = {lang for lang in left if key not in dictionaries[lang]}
            if not left:
                return []
    return sorted(left)


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
        # the generator is called in the same order as ever (a uniform per word; for a tried word the
        # language, then the candidate): a given seed switches the same words to the same entries
        out, switched = [], []
        draw, ratio, n_langs = rng.random, self.ratio, len(self.langs)
        for word in words:
            new = word
            if draw() < ratio:
                lang = self.langs[rng.integers(n_langs)]
                pre, key, post = self._split(word)
                cands = self._candidates(lang, key) if key else ()
                if cands:
                    new = pre + cands[rng.integers(len(cands))] + post
            out.append(new)
            switched.append(new != word)
        return out, switched

    def _split(self, word: str) -> Tuple[str, str, str]:
        """(leading punctuation, the lower-cased dictionary key, trailing punctuation)."""
        pre, core, post = _AFFIX.match(word).groups()
        return pre, core.lower(), post

    def _candidates(self, lang: str, key: str) -> Sequence[str]:
        cands = self.dictionaries[lang].get(key, ())
        if self.single_word_only and cands:
            cands = [c for c in cands if len(c.split()) == 1]
        return cands


@dataclass
class CodeSwitchFlags:
    code_switch_dicts: str = field(
        default="", metadata={"help": "comma-separated MUSE dictionaries en-XX.txt (XX = target language)"}
    )
    code_switch_ratio: float = field(default=0.3, metadata={"help": "probability that a word is switched"})


@register_augmentation("cs")
class CodeSwitch(Augmentation):
    """Words switched by the task's CodeSwitcher (its dictionaries load once per task: A and A' share
    it). QA: words overlapping the answer never switch (QAViewMaker.encode)."""

    description = "code-switch: words replaced by a bilingual dictionary's translations (CS)"
    flags = CodeSwitchFlags
    storable = True
    strength_flag = "code_switch_ratio"
    settings = ("code_switch_ratio",)
    setting_files = ("code_switch_dicts",)

    def parts(self, task):
        return {"switcher": task._switcher()}

    def check_examples(self, task, examples):
        task.warn_unswitchable(examples)

    def equip(self, maker, switcher, translations):
        if switcher is None:
            raise InputError("code-switch augmentation (cs) needs --code-switch-dicts")

    def sentence_view(self, maker, example, orig, rng):
        texts = [" ".join(maker.switcher(t.split(), rng)[0]) for t in example.texts]
        return View(maker.encode_texts(texts, None))

    def words_view(self, maker, example, orig, rng):
        # a switched word keeps its tag: the switcher never changes the word count
        switched, _ = maker.switcher(example.words, rng)
        if any(len(w.split()) != 1 for w in switched):
            raise InputError(f"example {example.id}: code-switch produced a multi-word entry; tagging needs "
                             "a single-word switcher")
        return maker.encode_words(switched, None, example.id)

    def qa_view(self, maker, example, orig, rng):
        return maker.encode(example, switch_rng=rng)
