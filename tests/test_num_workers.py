"""fairseq's --num-workers N draws the very same views as --num-workers 0 for the same seed: every
view comes from (seed, epoch, row, stream), never from a process's own random state, and each
epoch's worker processes start after the dataset was told the epoch."""

import itertools
import json

import numpy as np
import pytest
import torch

from conftest import fairseq_train, make_task, train_args
from test_span_extraction import qa, qa_task  # noqa: F401  (module fixture)
from test_tagging import tag_task, tagging  # noqa: F401  (module fixture)

CLS_VIEWS = {
    "ss-then-cs": ["--data-augmentation", "ss", "--r1-augmentation", "cs"],
    "cs-then-ss": ["--data-augmentation", "cs", "--r1-augmentation", "ss"],
}


def epoch_batches(task, num_workers, epochs=(1, 2), batch_size=32, first=8):
    """The first collated training batches of each epoch, as fairseq-train gets them: a fresh
    iterator per epoch (views change every epoch, so fairseq does not reuse one)."""
    ds = task.dataset("train")
    out = []
    for epoch in epochs:
        itr = task.get_batch_iterator(ds, max_sentences=batch_size, seed=3, num_workers=num_workers, epoch=epoch,
                                      ignore_invalid_inputs=True, disable_iterator_cache=True)
        out.append(list(itertools.islice(itr.next_epoch_itr(shuffle=True), first)))
    return out


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    return a == b


def assert_same_batches(task, workers=2):
    single, multi = epoch_batches(task, 0), epoch_batches(task, workers)
    assert [len(e) for e in single] == [len(e) for e in multi]
    for epoch, (x, y) in enumerate(zip(single, multi), 1):
        bad = [k for k, (a, b) in enumerate(zip(x, y)) if not same(a, b)]
        assert not bad, f"epoch {epoch}: batches {bad[:5]} differ between --num-workers 0 and {workers}"
    return single


def partners_by_row(epoch):
    return {int(i): p for b in epoch for i, p in zip(b["id"], b["partner"]["src_tokens"])}


def check_not_vacuous(batches):
    """The comparison is sharp: rows carry augmented copies, and views change between epochs (a
    worker left at a stale epoch would be seen)."""
    first, second = partners_by_row(batches[0]), partners_by_row(batches[1])
    assert any(bool(b["is_aug"].any()) for b in batches[0])
    common = first.keys() & second.keys()
    assert len(common) >= 10 and sum(not torch.equal(first[i], second[i]) for i in common) > len(common) // 10


@pytest.mark.parametrize("views", sorted(CLS_VIEWS))
def test_classification_batches_equal_with_workers(tiny, views):
    task, _ = make_task(tiny, *CLS_VIEWS[views], "--code-switch-dicts", tiny["dicts"], "--subword-alpha", "0.05")
    task.load_dataset("train")
    check_not_vacuous(assert_same_batches(task))


def test_tagging_batches_equal_with_workers(tagging):  # noqa: F811
    task, _ = tag_task(tagging, "--data-augmentation", "cs", "--r1-augmentation", "ss",
                       "--code-switch-dicts", tagging["dicts"], "--subword-alpha", "0.05")
    task.load_dataset("train")
    batches = assert_same_batches(task)
    check_not_vacuous(batches)
    assert "word_of_token" in batches[0][0]["partner"]


@pytest.mark.slow  # its fixture trains a sentencepiece model of its own
def test_span_extraction_batches_equal_with_workers(qa):  # noqa: F811
    task, _ = qa_task(qa, "--data-augmentation", "cs", "--r1-augmentation", "ss", "--code-switch-dicts",
                      qa["dicts"], "--subword-ratio", "1.0", "--subword-alpha", "0.05")
    task.load_dataset("train")
    batches = assert_same_batches(task)
    assert "aligned_mask" in batches[0][0]["partner"] and any(bool(b["is_aug"].any()) for b in batches[0])


def test_the_comparison_catches_views_from_process_random_state(tiny, monkeypatch):
    """Negative control: views drawn from a process's own numpy generator (each data-loader worker
    has its own) change with the number of workers, and the comparison above must see it."""
    from xtune_fairseq.fairseq_wiring.datasets.view_rows import ViewRowsDataset

    monkeypatch.setattr(ViewRowsDataset, "rng", lambda self, index, stream: np.random.default_rng(
        np.random.randint(2 ** 31)))
    task, _ = make_task(tiny, "--r1-augmentation", "ss", "--subword-ratio", "1.0", "--subword-alpha", "0.05")
    task.load_dataset("train")
    np.random.seed(0)
    single = epoch_batches(task, 0, epochs=(1,), first=4)
    np.random.seed(0)
    multi = epoch_batches(task, 2, epochs=(1,), first=4)
    assert not all(same(a, b) for a, b in zip(single[0], multi[0]))


def train_log(out):
    """Per-update and per-epoch metrics of a --log-format json run, timings left out."""
    rows = [json.loads(line[line.index("{"):]) for line in out.splitlines()
            if ("| train_inner |" in line or "| valid |" in line or "| train |" in line) and "{" in line]
    timing = ("wall", "wps", "ups", "free", "gb", "clip")
    return [{k: v for k, v in r.items() if k.rsplit("_", 1)[-1] not in timing} for r in rows]


@pytest.mark.parametrize("views", ["ss-then-cs", pytest.param("cs-then-ss", marks=pytest.mark.slow)])
def test_fairseq_train_losses_equal_with_workers(tiny, tmp_path, views):
    """Two epochs (views re-drawn at the boundary), R1 on: every update's losses equal exactly."""
    flags = [*CLS_VIEWS[views], "--code-switch-dicts", tiny["dicts"], "--subword-alpha", "0.05",
             "--augmented-ratio", "0.5", "--r1-lambda", "5", "--batch-size", "128", "--max-epoch", "2", "--no-save"]
    logs = {}
    for workers in (0, 2):
        _, out = fairseq_train(train_args(tiny, tmp_path / str(workers), *flags, "--num-workers", str(workers)))
        logs[workers] = train_log(out)
    updates = [r for r in logs[0] if "loss" in r]  # train_inner rows: one per update
    assert len(updates) == 14 and {r["epoch"] for r in updates} == {1, 2}
    assert all(float(r["r1_loss"]) > 0 for r in updates)
    assert logs[0] == logs[2]
