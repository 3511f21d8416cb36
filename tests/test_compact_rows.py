"""Training rows in flat buffers (data/compact_rows.py) are the rows the lists held: equal examples,
equal original views and tags, identical drawn views; and they hold no per-row Python objects,
which is what lets forked loader workers share them."""

import tracemalloc

import pytest
import torch

from conftest import make_task
from test_tagging import tag_task, tagging  # noqa: F401  (module fixture)
from xtune_fairseq.core.data.compact_rows import Codes, CompactRows, IntLists, Ragged, Strings
from xtune_fairseq.fairseq_wiring.datasets.paired_views_dataset import ListViews, TargetRows
from xtune_fairseq.core.data.prepared import (example_row, meta_path, read_example_rows, read_examples, read_tagged_meta,
                                         read_tagged_rows, tagged_row, write_jsonl)
from xtune_fairseq.core.data.readers import Example
from xtune_fairseq.core.data.tagged import TaggedSentence

ODD = ["", "é", "日本語", "a\tb", "x" * 300, "😀 emoji", "line\nbreak"]


def examples(n):
    """Single sentences and pairs, unicode, empty strings, missing labels, several languages."""
    return [Example(f"id-{i}-{ODD[i % 7]}", ("en", "de", "fr")[i % 3],
                    (ODD[i % 7] + f" {i}",) if i % 2 else (f"s{i}", ODD[(i + 3) % 7]),
                    None if i % 5 == 0 else ("entailment", "neutral")[i % 2]) for i in range(n)]


def sentences(n):
    return [TaggedSentence(f"t{i}", ("en", "sw")[i % 2], tuple(ODD[(i + k) % 7] or "w" for k in range(i % 4)),
                           None if i % 3 == 0 else tuple(("NOUN", "VERB", "B-PER")[(i + k) % 3] for k in range(i % 4)))
            for i in range(n)]


def test_columns_read_back_what_they_hold():
    strings = ODD + ["end"]
    assert [Strings.of(strings)[i] for i in range(len(strings))] == strings
    assert [Codes(["b", None, "a", "b"])[i] for i in range(4)] == ["b", None, "a", "b"]
    rows = [("a", "é"), None, (), ("日本語",)]
    assert [Ragged(rows)[i] for i in range(4)] == rows
    assert [Ragged(rows, Codes)[i] for i in range(4)] == rows
    lists = [[0, 5, -1], [], [2 ** 40]]
    assert [IntLists(lists)[i] for i in range(3)] == lists and IntLists(lists).lengths().tolist() == [3, 0, 1]


def test_compact_rows_index_like_the_list():
    listed = examples(23)
    ids, langs, texts, labels = zip(*((e.id, e.lang, e.texts, e.label) for e in listed))
    rows = CompactRows(Example, [Strings.of(ids), Codes(langs), Ragged(texts), Codes(labels)])
    assert len(rows) == 23 and list(rows) == listed and rows[-1] == listed[-1] and rows[3:9] == listed[3:9]
    with pytest.raises(IndexError):
        rows[23]
    with pytest.raises(ValueError):
        CompactRows(Example, [Strings.of(ids), Codes(langs[:-1])])


def test_meta_files_read_compact_equal_the_lists(tmp_path):
    path = str(tmp_path / "train.jsonl")
    write_jsonl(path, (example_row(e) for e in examples(50)))
    assert list(read_example_rows(path)) == read_examples(path) == examples(50)
    write_jsonl(path, (tagged_row(s) for s in sentences(40)))
    assert list(read_tagged_rows(path)) == read_tagged_meta(path) == sentences(40)


def _blocks(build):
    """Memory blocks still allocated after build() (the result kept alive): per-row objects show."""
    tracemalloc.start()
    try:
        kept = build()  # noqa: F841
        return sum(stat.count for stat in tracemalloc.take_snapshot().statistics("filename"))
    finally:
        tracemalloc.stop()


def test_no_python_object_per_row(tmp_path):
    path = str(tmp_path / "train.jsonl")
    write_jsonl(path, (example_row(e) for e in examples(3000)))
    assert _blocks(lambda: read_examples(path)) > 3000 * 4  # the list: objects per row (the test is sharp)
    assert _blocks(lambda: read_example_rows(path)) < 200
    write_jsonl(path, (tagged_row(s) for s in sentences(3000)))
    assert _blocks(lambda: read_tagged_rows(path)) < 200


def _all_items(ds):
    ds.set_epoch(2)
    return [ds.drawn_views(i) for i in range(len(ds))], [ds[i] for i in range(len(ds))]


def same_items(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert (torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype) if torch.is_tensor(a[k]) else a[k] == b[k], k


@pytest.mark.parametrize("views", [("cs", "ss"), ("ss", "cs")])
def test_classification_views_identical_through_compact_rows(tiny, views):
    task, _ = make_task(tiny, "--data-augmentation", views[0], "--r1-augmentation", views[1],
                        "--code-switch-dicts", tiny["dicts"])
    ds = task.load_dataset("train").dataset
    assert isinstance(ds.examples, CompactRows)
    compact = _all_items(ds)
    ds.examples = read_examples(meta_path(tiny["bin"], "train"))  # the list the task held before
    listed = _all_items(ds)
    n = len(ds.originals)
    assert compact[0] == listed[0] and any(p.ids != ds.originals[i].ids for i, (_, p) in enumerate(compact[0][:n]))
    for a, b in zip(compact[1], listed[1]):
        same_items(a, b)


class _ListedViews:  # the list-held original views that ListViews replaced
    def __init__(self, views):
        self.views, self.sizes = views, ListViews(views).sizes

    def __len__(self):
        return len(self.views)

    def __getitem__(self, i):
        return self.views[i]


def test_tagging_views_and_tags_identical_through_compact_rows(tagging):  # noqa: F811
    task, _ = tag_task(tagging, "--data-augmentation", "cs", "--code-switch-dicts", tagging["dicts"],
                       "--r1-augmentation", "ss")
    ds = task.load_dataset("train").dataset
    assert isinstance(ds.originals, ListViews) and isinstance(ds.targets, TargetRows)
    compact = _all_items(ds)
    listed_rows = read_tagged_meta(meta_path(tagging["bin"], "train"))
    encoder = type(ds.augment)("none", task._encoding()[0], task._sampler())
    ds.examples = listed_rows
    ds.originals = _ListedViews([encoder.encode_words(s.words, None, s.id) for s in listed_rows])
    ds.targets = [torch.tensor([task.label_index(t) for t in s.tags]) for s in listed_rows]
    listed = _all_items(ds)
    assert compact[0] == listed[0]
    for a, b in zip(compact[1], listed[1]):
        same_items(a, b)
