"""Readers for classification TSV files (training data and translate-train files)."""

import csv
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import is_blank, open_text

TEXT_COLUMNS = (("sentence",), ("sentence1", "sentence2"))
# fairseq's Dictionary holds these before any label: a label named so gets no class index of its own
SPECIAL_SYMBOLS = ("<s>", "<pad>", "</s>", "<unk>")


@dataclass(frozen=True)
class Example:
    id: str
    lang: str
    texts: Tuple[str, ...]  # one sentence, or a sentence pair
    label: Optional[str] = None


class LanguageCodes:
    """One spelling per language across the files of a run: 'EN' next to 'en' would be a language of
    its own in avg_acc, so a case variant is refused (not normalised: the codes name acc_XX and files)."""

    def __init__(self):
        self.first = {}  # casefolded code -> (spelling, where it was first seen)

    def check(self, lang: str, where: str) -> str:
        lang = lang.strip()
        if is_blank(lang):
            raise InputError(f"{where}: empty language code")
        spelling, first = self.first.setdefault(lang.casefold(), (lang, where))
        if spelling != lang:
            raise InputError(f"{where}: language {lang!r} differs only in case from {spelling!r} ({first}); "
                             "use one spelling")
        return lang


def check_label(label: str, where: str, what: str = "label") -> str:
    """A label must be one token of fairseq's label dictionary, and not one of its special symbols."""
    if len(label.split()) > 1:
        raise InputError(f"{where}: {what} {label!r} contains whitespace; {what}s must be single tokens")
    if label in SPECIAL_SYMBOLS:
        raise InputError(f"{where}: {what} {label!r} is one of fairseq's special symbols {SPECIAL_SYMBOLS}; "
                         "rename it")
    return label


def read_classification_tsv(
    path: str, labels: Optional[Sequence[str]] = None, require_label: bool = True,
    languages: Optional[LanguageCodes] = None,
) -> List[Example]:
    """Reads a TSV with a header naming `id`, `lang`, `label` and `sentence` or
    `sentence1` + `sentence2` (any order, extra columns ignored).

    labels: when given, a label outside it is an error (evaluation sets, teachers).
    languages: shared by the files of one run, so that a code's spelling is the same in all of them.
    """
    return list(iter_classification_tsv(path, labels, require_label, languages))


def iter_classification_tsv(
    path: str, labels: Optional[Sequence[str]] = None, require_label: bool = True,
    languages: Optional[LanguageCodes] = None,
) -> Iterator[Example]:
    """read_classification_tsv's examples one at a time, checked as they are read (a translate-train
    file of millions of rows is never held whole)."""
    languages = languages or LanguageCodes()
    # open_text drops a BOM, which would be part of the first column's name
    with open_text(path, "a UTF-8 TSV with a header line such as 'id<TAB>lang<TAB>sentence<TAB>label'",
                   newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path}: empty file; expected a header line such as 'id<TAB>lang<TAB>sentence<TAB>label'")
        header = [h.strip() for h in header]
        text_cols = next((c for c in reversed(TEXT_COLUMNS) if all(x in header for x in c)), None)
        needed = ["id", "lang"] + (["label"] if require_label else [])
        missing = [c for c in needed if c not in header]
        if text_cols is None or missing:
            raise InputError(
                f"{path}:1: header must name id, lang, {'label, ' if require_label else ''}and sentence "
                f"(or sentence1 and sentence2); got {header}"
            )
        col = {name: i for i, name in enumerate(header)}
        allowed = set(labels) if labels is not None else None
        seen, n = set(), 0
        for lineno, row in enumerate(rows, 2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise InputError(f"{path}:{lineno}: expected {len(header)} tab-separated columns {header}, got {len(row)}")
            texts = tuple(row[col[c]].strip() for c in text_cols)
            if any(map(is_blank, texts)):
                raise InputError(f"{path}:{lineno}: empty sentence")
            label = row[col["label"]].strip() if "label" in col else None
            if require_label and not label:
                raise InputError(f"{path}:{lineno}: empty label")
            if label:
                check_label(label, f"{path}:{lineno}")
            if allowed is not None and label is not None and label not in allowed:
                raise InputError(f"{path}:{lineno}: unknown label {label!r}; expected one of {sorted(allowed)}")
            ex_id = row[col["id"]].strip()
            if require_label:  # translations share their source's id
                if ex_id in seen:
                    raise InputError(f"{path}:{lineno}: duplicate example id {ex_id!r}")
                seen.add(ex_id)
            n += 1
            yield Example(ex_id, languages.check(row[col["lang"]], f"{path}:{lineno}"), texts, label)
    if not n:
        raise InputError(f"{path}: no examples after the header")


def iter_translations(path: str, examples: Sequence[Example],
                      languages: Optional[LanguageCodes] = None) -> Iterator[Example]:
    """A translate-train file (same TSV layout, label optional), row by row, each checked against its
    source training example (same id, as many sentences)."""
    n_texts = {ex.id: len(ex.texts) for ex in examples}
    for tr in iter_classification_tsv(path, require_label=False, languages=languages):
        n = n_texts.get(tr.id)
        if n is None:
            raise InputError(f"{path}: translation id {tr.id!r} matches no training example")
        if len(tr.texts) != n:
            raise InputError(f"{path}: translation {tr.id!r} has {len(tr.texts)} sentences, its source {n}")
        yield tr


def translation_table(rows: Iterable) -> Dict[str, list]:
    """{id: its rows, in order}, in memory (training reads prepared.read_translation_table's instead)."""
    table: Dict[str, list] = {}
    for row in rows:
        table.setdefault(row.id, []).append(row)
    return table


def read_translations(path: str, examples: Sequence[Example],
                      languages: Optional[LanguageCodes] = None) -> Dict[str, List[Example]]:
    """iter_translations' rows keyed by the source example's id."""
    return translation_table(iter_translations(path, examples, languages))
