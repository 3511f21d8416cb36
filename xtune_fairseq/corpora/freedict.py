"""FreeDict dictd files (Debian dict-freedict-eng-XXX) -> MUSE-format word pairs."""

import gzip
import re
from typing import Dict, Iterator, List, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_WORD = re.compile(r"^[^\W\d_]+(?:[-'][^\W\d_]+)*$", re.UNICODE)
_TAG = re.compile(r"<[^>]*>|\([^)]*\)|\[[^\]]*\]")


def _b64(s: str) -> int:
    value = 0
    for ch in s:
        value = value * 64 + _B64.index(ch)
    return value


def read_dictd(index_path: str, dict_path: str) -> Iterator[Tuple[str, List[str]]]:
    """(headword, translations) for each entry; translations from the numbered sense lines."""
    data = gzip.open(dict_path).read() if dict_path.endswith(".dz") else open(dict_path, "rb").read()
    with open(index_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise InputError(f"{index_path}:{lineno}: expected headword<TAB>offset<TAB>length")
            head, off, length = fields
            if head.startswith("00database"):
                continue
            body = data[_b64(off):_b64(off) + _b64(length)].decode("utf-8", errors="replace").split("\n")
            out = []
            for sense in body[1:]:
                if not sense.strip() or sense[:1].isspace():  # notes, synonyms, cross-references
                    continue
                sense = re.sub(r"^\d+\.\s*", "", sense)
                for cand in _TAG.sub("", sense).split(","):
                    cand = " ".join(cand.split())
                    if cand and all(_WORD.match(w) for w in cand.split()):
                        out.append(cand)
            yield head, out


def to_muse(entries, max_candidates: int = 5) -> Dict[str, List[str]]:
    """Single-word, lower-cased English headwords; single-word targets first."""
    table: Dict[str, List[str]] = {}
    for head, cands in entries:
        head = head.strip().lower()
        if not _WORD.match(head):
            continue
        ordered = sorted(dict.fromkeys(cands), key=lambda c: len(c.split()))
        slot = table.setdefault(head, [])
        for c in ordered:
            if c not in slot and len(slot) < max_candidates:
                slot.append(c)
    return {k: v for k, v in table.items() if v}


def write_muse(table: Dict[str, List[str]], path: str) -> int:
    n = 0
    with atomic_open(path, "w", encoding="utf-8") as f:
        for src in sorted(table):
            for tgt in table[src]:
                f.write(f"{src}\t{tgt}\n")
                n += 1
    return n
