"""Readers for sequence-labelling files: CoNLL style (`word<TAB>tag` per line, a blank line
between sentences, as XTREME's udpos and panx files) and one sentence a line of `word/TAG`."""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from xtune_fairseq.core.data.readers import check_label
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import is_blank, open_text

FORMATS = ("auto", "conll", "word_tag")
DOCSTART = "-DOCSTART-"  # CoNLL-2003 / panx document separators, not sentences


@dataclass(frozen=True)
class TaggedSentence:
    id: str
    lang: str
    words: Tuple[str, ...]
    tags: Optional[Tuple[str, ...]] = None  # None: unlabelled (a translation)

    @property
    def texts(self):  # the classification Example's view of the text
        return (" ".join(self.words),)


def _lines(path: str):
    # open_text drops a BOM, which would stick to the first word
    with open_text(path, "UTF-8 text: 'word<TAB>tag' lines or 'word/TAG word/TAG ...' lines") as f:
        for lineno, line in enumerate(f, 1):
            yield lineno, line.rstrip("\n\r")


def _is_docstart(line: str) -> bool:
    return line.split(None, 1)[0].split("/")[0] == DOCSTART


def detect_format(path: str) -> str:
    for _, line in _lines(path):
        if line.strip() and not _is_docstart(line):
            return "conll" if "\t" in line else "word_tag"
    raise InputError(f"{path}: empty file; expected 'word<TAB>tag' lines or 'word/TAG word/TAG ...' lines")


def read_tagged(path: str, lang: str, fmt: str = "auto", labels: Optional[Sequence[str]] = None,
                prefix: str = "") -> List[TaggedSentence]:
    """labels: when given (dev/test files), a tag outside it is an error naming file and line."""
    if fmt not in FORMATS:
        raise InputError(f"tag format must be one of {FORMATS}, got {fmt!r}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    allowed = set(labels) if labels is not None else None
    sentences, words, tags = [], [], []

    def check(tag, lineno):
        check_label(tag, f"{path}:{lineno}", "tag")
        if allowed is not None and tag not in allowed:
            raise InputError(f"{path}:{lineno}: tag {tag!r} is not in the training label set {sorted(allowed)}")

    def flush():
        if words:
            sentences.append(TaggedSentence(f"{prefix}{lang}-{len(sentences)}", lang, tuple(words), tuple(tags)))
            words.clear()
            tags.clear()

    for lineno, line in _lines(path):
        if not line.strip() or _is_docstart(line):
            flush()
            continue
        if fmt == "conll":
            fields = line.split("\t")
            if len(fields) < 2 or is_blank(fields[0]) or not fields[-1].strip():
                raise InputError(f"{path}:{lineno}: expected 'word<TAB>tag', got {line!r}")
            word, tag = fields[0].strip(), fields[-1].strip()
            if " " in word:
                raise InputError(f"{path}:{lineno}: word {word!r} contains a space; one word per line expected")
            check(tag, lineno)
            words.append(word)
            tags.append(tag)
        else:
            for token in line.split():
                word, sep, tag = token.rpartition("/")
                if not sep or is_blank(word) or not tag:
                    raise InputError(f"{path}:{lineno}: expected 'word/TAG' tokens, got {token!r}")
                check(tag, lineno)
                words.append(word)
                tags.append(tag)
            flush()
    flush()
    if not sentences:
        raise InputError(f"{path}: no sentences found")
    return sentences
