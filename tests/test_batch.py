"""core/batch.py declares the batch: real batches of every kind (classification with views and a
teacher cache, tagging, QA with its partner alignment) hold the declared keys only, with the declared
nesting, and every required one; a key added by convention between a collater and its readers fails."""

import typing

import pytest
import torch

from conftest import make_task
from test_span_extraction import qa, qa_task  # noqa: F401 (qa: a module fixture)
from test_tagging import tagging, tag_task  # noqa: F401 (tagging: a module fixture)
from xtune_fairseq.core.batch import Batch, NetInput, Partner


def undeclared(value, declared, where="batch") -> list:
    """Where `value` (a collated dict) departs from the TypedDict `declared`, recursing into the
    levels it declares: keys it does not declare, required keys it lacks, values of another type."""
    if not isinstance(value, dict):
        return [f"{where}: a {type(value).__name__}, declared a dict ({declared.__name__})"]
    hints = typing.get_type_hints(declared)
    problems = [f"{where}[{k!r}]: not declared in {declared.__name__}" for k in value if k not in hints]
    problems += [f"{where}[{k!r}]: required by {declared.__name__}, missing" for k in declared.__required_keys__
                 if k not in value]
    for key, hint in hints.items():
        if key not in value:
            continue
        if typing.is_typeddict(hint):
            problems += undeclared(value[key], hint, f"{where}[{key!r}]")
        elif not isinstance(value[key], hint):
            problems.append(f"{where}[{key!r}]: a {type(value[key]).__name__}, declared {hint.__name__}")
    return problems


def keys_of(batch, declared=Batch, prefix="") -> set:
    """Every key of a batch, nested ones as 'level.key'."""
    out = set()
    for key, value in batch.items():
        out.add(prefix + key)
        hint = typing.get_type_hints(declared).get(key)
        if hint is not None and typing.is_typeddict(hint):
            out |= keys_of(value, hint, f"{prefix}{key}.")
    return out


def declared_keys(declared=Batch, prefix="") -> set:
    out = set()
    for key, hint in typing.get_type_hints(declared).items():
        out.add(prefix + key)
        if typing.is_typeddict(hint):
            out |= declared_keys(hint, f"{prefix}{key}.")
    return out


def rows_of(task, split):
    task.load_dataset(split)
    inner = task.dataset(split).dataset
    inner.set_epoch(1)
    return inner


def collate(inner, n=3):
    """A batch of n original rows and, where the rows have them, n augmented copies."""
    rows = list(range(n)) + [r for r in range(inner.n_original, inner.n_original + n) if r < len(inner)]
    return inner.collater([inner[i] for i in rows])


@pytest.fixture(scope="module")
def classification_batches(tiny):
    task, _ = make_task(tiny, "--data-augmentation", "ss", "--r1-augmentation", "ss")
    inner = rows_of(task, "train")
    plain = collate(inner)
    # teacher logits of the originals, cached as load_teacher_cache returns them (the copies are
    # re-sampled: the teacher runs online for those)
    inner.teacher_cache = {"original": torch.randn(inner.n_original, len(task.label_names))}
    cached = collate(inner)
    valid = collate(rows_of(make_task(tiny)[0], "valid"))
    return {"cached": cached, "plain": plain, "valid": valid}


@pytest.fixture(scope="module")
def tagging_batches(tagging):
    task, _ = tag_task(tagging, "--data-augmentation", "mt", "--r1-augmentation", "ss")
    train = collate(rows_of(task, "train"))
    valid = collate(rows_of(tag_task(tagging)[0], "valid"))
    return {"train": train, "valid": valid}


@pytest.fixture(scope="module")
def qa_batches(qa):
    task, _ = qa_task(qa, "--data-augmentation", "ss", "--r1-augmentation", "ss")
    train = collate(rows_of(task, "train"))
    valid = collate(rows_of(qa_task(qa)[0], "valid"))
    return {"train": train, "valid": valid}


def test_classification_batches_hold_declared_keys_only(classification_batches):
    batches = classification_batches
    for name, batch in batches.items():
        assert undeclared(batch, Batch) == [], name
    cached = batches["cached"]
    assert 0 < int(cached["teacher_cached"].sum()) < cached["teacher_cached"].numel()
    assert cached["teacher_logits"].dtype == torch.float32 and "partner" in cached
    assert "teacher_logits" not in batches["plain"] and "partner" not in batches["valid"]


def test_tagging_batches_hold_declared_keys_only(tagging_batches):
    for name, batch in tagging_batches.items():
        assert undeclared(batch, Batch) == [], name
    train = tagging_batches["train"]
    assert "word_of_token" in train["net_input"] and "word_of_token" in train["partner"]
    assert "aligned_mask" not in train["partner"]


def test_qa_batches_hold_declared_keys_only(qa_batches):
    for name, batch in qa_batches.items():
        assert undeclared(batch, Batch) == [], name
    partner = qa_batches["train"]["partner"]
    assert partner["aligned_mask"].dtype == torch.bool
    assert partner["aligned_input"].shape == partner["aligned_partner"].shape == partner["aligned_mask"].shape


def test_every_declared_key_is_made_by_some_collater(classification_batches, tagging_batches, qa_batches):
    """No stale declaration: each key of core/batch.py is in a batch of some kind."""
    made = set()
    for batches in (classification_batches, tagging_batches, qa_batches):
        for batch in batches.values():
            made |= keys_of(batch)
    assert made == declared_keys()


def test_a_key_by_convention_is_caught():
    batch = Batch(id=torch.zeros(1, dtype=torch.long), nsentences=1, ntokens=2,
                  net_input=NetInput(src_tokens=torch.zeros(1, 2, dtype=torch.long), src_lengths=torch.tensor([2])),
                  is_aug=torch.tensor([False]), lang=torch.tensor([0]))
    assert undeclared(batch, Batch) == []
    batch["partner"] = Partner(src_tokens=torch.zeros(1, 2, dtype=torch.long))
    batch["partner"]["extra"] = torch.zeros(1)
    batch["net_input"]["lengths"] = torch.zeros(1)
    del batch["lang"]
    assert sorted(undeclared(batch, Batch)) == sorted([
        "batch['net_input']['lengths']: not declared in NetInput",
        "batch['partner']['extra']: not declared in Partner",
        "batch['lang']: required by Batch, missing",
    ])
