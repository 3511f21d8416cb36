"""The memory-mapped translation table (data/translation_table.py) against the dict it replaces."""

import json
import pickle

import numpy as np
import pytest

from xtune_fairseq.core.data import translation_table as tt
from xtune_fairseq.core.data.prepared import (example_row, qa_row, read_examples, read_qa_meta, read_tagged_meta,
                                         read_translation_table, tagged_row)
from xtune_fairseq.core.data.readers import Example, translation_table
from xtune_fairseq.core.data.tagged import TaggedSentence
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.squad import QAExample


def _write(path, rows, to_dict, newline="\n", last_newline=True):
    text = newline.join(json.dumps(to_dict(r), ensure_ascii=False) for r in rows)
    path.write_bytes((text + (newline if last_newline else "")).encode("utf-8"))
    return str(path)


def _examples(n_ids=40, seed=0):
    """Translations of n_ids ids, 0-4 each, interleaved (not grouped by id), non-ASCII text."""
    rng = np.random.default_rng(seed)
    rows = [Example(f"train-{rng.integers(n_ids)}", lang, (f"Satz {k} ü", f"phrase {k} é"), None)
            for k, lang in enumerate(rng.choice(["de", "fr", "es"], size=120))]
    return rows


@pytest.mark.parametrize("newline,last_newline", [("\n", True), ("\n", False), ("\r\n", True)])
def test_equal_to_the_dict_of_lists(tmp_path, newline, last_newline):
    rows = _examples()
    path = _write(tmp_path / "t.jsonl", rows, example_row, newline, last_newline)
    expected = translation_table(rows)
    table = read_translation_table(path)
    assert len(table) == len(expected)
    assert list(table) == list(expected)  # first-appearance order, as the dict
    for example_id, group in expected.items():
        assert example_id in table
        assert list(table[example_id]) == group
        assert table[example_id] == group and len(table[example_id]) == len(group)
        assert table[example_id][-1] == group[-1] and table[example_id][1:] == group[1:]
    assert dict(table.items()) == expected
    assert "train-999" not in table and 3 not in table
    with pytest.raises(KeyError):
        table["train-999"]
    assert read_examples(path) == rows  # the writer's file, read back whole


def test_tagging_and_qa_rows(tmp_path):
    tagged = [TaggedSentence("s1", "de", ("Das", "Haus"), None), TaggedSentence("s0", "fr", ("la", "maison"), None),
              TaggedSentence("s1", "fr", ("la", "maison"), ("DET", "NOUN"))]
    path = _write(tmp_path / "tagged.jsonl", tagged, tagged_row)
    assert dict(read_translation_table(path, "tagging").items()) == translation_table(read_tagged_meta(path))
    qa = [QAExample("q1", "de", "Wo?", "Im Haus ist es.", (("Haus", 3),)),
          QAExample("q1", "es", "¿Dónde?", "En la casa.", (("casa", 6), ("la casa", 3)))]
    path = _write(tmp_path / "qa.jsonl", qa, qa_row)
    assert list(read_translation_table(path, "qa")["q1"]) == read_qa_meta(path)


def test_hash_collisions_compare_the_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(tt, "id_hash", lambda example_id: 7)  # every id collides
    rows = _examples(n_ids=6)
    table = read_translation_table(_write(tmp_path / "t.jsonl", rows, example_row))
    assert dict(table.items()) == translation_table(rows)
    assert "train-999" not in table


def test_shared_pages_and_pickling(tmp_path):
    rows = _examples()
    table = read_translation_table(_write(tmp_path / "t.jsonl", rows, example_row))
    assert isinstance(table.buf, np.memmap)  # the text stays in the file's pages
    assert all(isinstance(v, np.ndarray) for k, v in vars(table).items() if k not in ("path", "row_of"))
    again = pickle.loads(pickle.dumps(table))  # a spawned loader worker maps the file itself
    assert dict(again.items()) == translation_table(rows)


def test_empty_and_blank(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert len(read_translation_table(str(empty))) == 0
    rows = _examples(n_ids=3)
    path = tmp_path / "blank.jsonl"
    path.write_text("\n" + "\n\n".join(json.dumps(example_row(r)) for r in rows) + "\n\n", encoding="utf-8")
    assert dict(read_translation_table(str(path)).items()) == translation_table(rows)


def test_bad_row_names_file_and_line(tmp_path):
    rows = _examples(n_ids=3)[:5]
    lines = [json.dumps(example_row(r)) for r in rows]
    lines[3] = json.dumps({"lang": "de", "texts": ["x"]})  # no id
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:4: not a translation row"):
        read_translation_table(str(path))
    lines[3] = "{not json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:4:"):
        read_translation_table(str(path))
    with pytest.raises(InputError, match="not found"):
        read_translation_table(str(tmp_path / "missing.jsonl"))


def test_line_ranges_by_blocks_match_a_split():
    rng = np.random.default_rng(0)
    for _ in range(300):
        buf = rng.choice(np.frombuffer(b"ab\n\r", dtype=np.uint8), size=int(rng.integers(0, 60)))
        lines, pos = [], 0
        for line in buf.tobytes().split(b"\n"):
            if line not in (b"", b"\r"):  # blank lines are skipped
                lines.append((pos, pos + len(line)))
            pos += len(line) + 1
        for block in (int(rng.integers(1, 9)), 1 << 24):
            starts, ends = tt._line_ranges(buf, block)
            assert list(zip(starts.tolist(), ends.tolist())) == lines
