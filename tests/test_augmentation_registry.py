"""The augmentation registry: every kind is one object that owns its flags and views and answers what
the rest of the code asks (no kind compared by name outside the registry and the kinds' modules); and
the fifth kind it made a one-module addition, R-Drop's dropout consistency."""

import dataclasses
import json
import os
import re
import sys

import pytest
import torch

from conftest import ROOT, fairseq_train, make_task, train_args
from xtune_fairseq.core.augment.registry import (
    AUGMENTATION_REGISTRY, AUGMENTATIONS, Augmentation, View, get_augmentation, register_augmentation,
)
from xtune_fairseq.core.augment.gaussian_noise import noise_rows
from xtune_fairseq.core.errors import InputError

NO_DROPOUT = ["--dropout", "0", "--attention-dropout", "0", "--pooler-dropout", "0"]
PACKAGE = os.path.join(ROOT, "xtune_fairseq")


def own_flags(augmentation):
    return dataclasses.fields(augmentation.flags) if augmentation.flags is not None else ()


def test_every_kind_is_one_registered_object():
    assert AUGMENTATIONS[:5] == ("none", "ss", "cs", "gn", "mt") and "dropout" in AUGMENTATIONS
    for name, augmentation in AUGMENTATION_REGISTRY.items():
        assert isinstance(augmentation, Augmentation) and augmentation.name == name
        assert get_augmentation(name) is augmentation and augmentation.description
        owned = [f.name for f in own_flags(augmentation)]
        assert all(f.metadata.get("help") for f in own_flags(augmentation))
        for flag in ([augmentation.strength_flag] if augmentation.strength_flag else []) + list(augmentation.settings):
            assert flag in owned, f"{name}: {flag} is not one of its own flags"
    assert [a.name for a in AUGMENTATION_REGISTRY.values() if a.noise] == ["gn"]
    assert [a.name for a in AUGMENTATION_REGISTRY.values() if not a.makes_views] == ["none"]
    with pytest.raises(InputError, match="unknown augmentation 'xx'"):
        get_augmentation("xx")
    with pytest.raises(ValueError, match="registered twice"):
        register_augmentation("ss")(type("Again", (Augmentation,), {}))


def test_task_flags_and_choices_come_from_the_registry(tiny):
    from xtune_fairseq.fairseq_wiring.tasks.xtune_base import XtuneTaskConfig

    fields = {f.name: f for f in dataclasses.fields(XtuneTaskConfig)}
    for augmentation in AUGMENTATION_REGISTRY.values():
        for flag in own_flags(augmentation):
            assert fields[flag.name].metadata == flag.metadata
    for name in ("data_augmentation", "r1_augmentation"):
        assert [c.value for c in fields[name].type] == list(AUGMENTATIONS)
    task, _ = make_task(tiny, "--r1-augmentation", "gn", "--noise-kind", "normal", "--noise-std", "0.5")
    assert task.cfg.noise_kind == "normal" and str(task.cfg.noise_kind) == "normal" and task.cfg.noise_std == 0.5


KIND_LITERAL = re.compile(r"""["'](ss|gn|cs|mt)["']""")


def test_no_kind_is_compared_by_name_outside_the_registry():
    """core/ and fairseq_wiring/ ask the objects: a kind's name appears as a literal only in the
    registry, the kinds' own modules and the paper's recipes (presets of flag values)."""
    allowed = {os.path.abspath(sys.modules[type(a).__module__].__file__) for a in AUGMENTATION_REGISTRY.values()}
    allowed |= {os.path.join(PACKAGE, "core", "recipes.py")}
    found = []
    for part in ("core", "fairseq_wiring"):
        for folder, _, files in os.walk(os.path.join(PACKAGE, part)):
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.abspath(os.path.join(folder, name))
                if path in allowed:
                    continue
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        if KIND_LITERAL.search(line):
                            found.append(f"{os.path.relpath(path, ROOT)}:{lineno}: {line.strip()}")
    assert not found, "kinds compared by name (ask the Augmentation object instead):\n  " + "\n  ".join(found)


# --- dropout (R-Drop): the fifth kind -----------------------------------------------------------

def test_dropout_views_are_the_example_itself():
    from xtune_fairseq.core.augment.views import TaggingViewMaker, ViewMaker
    from xtune_fairseq.core.qa.views import QAViewMaker

    orig = View([0, 5, 6, 2], word_of_token=[-1, 0, 1, -1])
    for maker in (ViewMaker("dropout", None, None), TaggingViewMaker("dropout", None, None)):
        assert maker(None, orig, None) is orig and maker.kind == "dropout"
    qa = QAViewMaker("dropout", None, 64, 32, 16)
    assert qa(None, "a QA view", None) == "a QA view"
    dropout = get_augmentation("dropout")
    assert not (dropout.noise or dropout.storable or dropout.fixed_input or dropout.translates)


def r1_of_a_training_step(tiny, *flags):
    task, cfg, crit = make_task(tiny, "--r1-augmentation", "dropout", "--r1-lambda", "1", *flags, criterion=True)
    task.load_dataset("train")
    ds = task.dataset("train").dataset
    ds.set_epoch(1)
    sample = ds.collater([ds[i] for i in range(8)])
    assert torch.equal(sample["partner"]["src_tokens"], sample["net_input"]["src_tokens"])  # the same input twice
    assert not noise_rows(task.cfg, sample["is_aug"], with_partners=True).any()
    torch.manual_seed(0)
    model = task.build_model(cfg.model).train()
    loss, _, log = crit(model, sample)
    loss.backward()
    return float(log["r1_loss"])


def test_dropout_r1_compares_two_dropout_masks(tiny):
    assert r1_of_a_training_step(tiny) > 1e-6  # dropout on (the model's defaults): two passes differ
    assert abs(r1_of_a_training_step(tiny, *NO_DROPOUT)) < 1e-7  # no dropout: the same pass twice


def test_fairseq_train_with_dropout_consistency(tiny, tmp_path):
    _, out = fairseq_train(train_args(tiny, tmp_path, "--r1-augmentation", "dropout", "--r1-lambda", "1",
                                      "--max-update", "4", "--no-save"))
    rows = [json.loads(line[line.index("{"):]) for line in out.splitlines()
            if "| train_inner |" in line and "{" in line]
    assert len(rows) == 4 and all(float(r["r1_loss"]) > 0 for r in rows)
