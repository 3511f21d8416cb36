"""Readers of the real resources, on small hand-made files in their formats."""

import gzip

import pytest

from xtune_fairseq.corpora.freedict import _B64, read_dictd, to_muse, write_muse
from xtune_fairseq.corpora.sentiment import read_polarity, split_rows
from xtune_fairseq.core.errors import InputError


def b64(n):
    out = ""
    while True:
        out = _B64[n % 64] + out
        n //= 64
        if n == 0:
            return out


def write_dictd(tmp_path, entries):
    body, index = b"", []
    for head, text in entries:
        data = text.encode()
        index.append(f"{head}\t{b64(len(body))}\t{b64(len(data))}")
        body += data
    (tmp_path / "d.index").write_text("00databaseinfo\tA\tB\n" + "\n".join(index) + "\n")
    with gzip.open(tmp_path / "d.dict.dz", "wb") as f:
        f.write(body)
    return str(tmp_path / "d.index"), str(tmp_path / "d.dict.dz")


def test_dictd_entries_to_muse(tmp_path):
    index, data = write_dictd(tmp_path, [
        ("good", "good /gʊd/\n1. gut, prima <adj>\n2. Gutes <neut>\n see: {well}\n"),
        ("bad", "bad /bæd/\nschlecht (ugs.), übel\n   Note: informal\n"),
        ("make up", "make up /meik/\nschminken\n"),
        ("x-ray", "x-ray /x/\nRöntgenbild 2, Röntgen\n"),
    ])
    entries = dict(read_dictd(index, data))
    assert entries["good"] == ["gut", "prima", "Gutes"]
    assert entries["bad"] == ["schlecht", "übel"]
    table = to_muse(entries.items(), max_candidates=2)
    assert table == {"good": ["gut", "prima"], "bad": ["schlecht", "übel"], "x-ray": ["Röntgen"]}
    path = str(tmp_path / "en-de.txt")
    assert write_muse(table, path) == 5
    assert open(path).read().splitlines()[0] == "bad\tschlecht"


def test_dictd_bad_index_line(tmp_path):
    (tmp_path / "d.index").write_text("good\tA\n")
    with gzip.open(tmp_path / "d.dict.dz", "wb") as f:
        f.write(b"")
    with pytest.raises(InputError, match=r"d\.index:1: expected headword"):
        list(read_dictd(str(tmp_path / "d.index"), str(tmp_path / "d.dict.dz")))


def test_polarity_csv_both_column_orders(tmp_path):
    (tmp_path / "a.csv").write_text('\ufeff"1","a good\nfilm"\n"-1","bad"\n', encoding="utf-8")
    (tmp_path / "b.csv").write_text('"très bien","1"\n', encoding="utf-8")
    assert read_polarity(str(tmp_path / "a.csv"), True) == [("a good film", "positive"), ("bad", "negative")]
    assert read_polarity(str(tmp_path / "b.csv"), False) == [("très bien", "positive")]
    (tmp_path / "c.csv").write_text('"0","meh"\n', encoding="utf-8")
    with pytest.raises(InputError, match="record 1: label '0'"):
        read_polarity(str(tmp_path / "c.csv"), True)


def test_splits_are_disjoint_and_seeded():
    rows = list(range(100))
    a = split_rows(rows, 1234, {"train": (0, 60), "test": (60, 80), "valid": (80, 100)})
    b = split_rows(rows, 1234, {"train": (0, 60), "test": (60, 80), "valid": (80, 100)})
    assert a == b and sorted(a["train"] + a["test"] + a["valid"]) == rows
