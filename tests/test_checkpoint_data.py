"""Checkpoints read with other data (issue #13): --data is the task's data even when the checkpoint's
training folder moved; a teacher cache is tied to its teacher file and training rows; a NaN teacher
(weights, online logits, cached logits) is a clear error, not a loss R2's KL silently zeroes."""

import json
import os
import shutil

import pytest
import torch

from conftest import fairseq_train, make_task, train_args
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.errors import InputError, NonFiniteLoss

HEAD = "sentence_classification_head"


@pytest.fixture(scope="module")
def moved(tiny, tmp_path_factory):
    """A stage-1 checkpoint whose training data folder was moved after training."""
    root = tmp_path_factory.mktemp("moved")
    first, later = root / "data-then", root / "data-now"
    shutil.copytree(tiny["bin"], first)
    fairseq_train(train_args({**tiny, "bin": str(first)}, root / "ck", "--max-update", "4"))
    shutil.move(str(first), str(later))
    return {"checkpoint": str(root / "ck" / "checkpoint_last.pt"), "data": str(later), "root": root}


def copy_data(src, dst, edit_info=None):
    shutil.copytree(src, dst)
    if edit_info:
        info = json.loads((dst / "xtune.json").read_text())
        edit_info(info)
        (dst / "xtune.json").write_text(json.dumps(info))
    return str(dst)


def saved(state, path):
    torch.save(state, path)
    return str(path)


# --- point 2: --data is the data the checkpoint is read with -------------------------------------

def test_evaluate_reads_the_given_data_not_the_training_folder(tiny, moved, tmp_path):
    from xtune_fairseq.evaluation import predict

    other = tmp_path / "other"
    shutil.copytree(moved["data"], other)
    for name in ("input0/test.bin", "input0/test.idx", "label/test.bin", "label/test.idx", "meta/test.jsonl"):
        shutil.copy(other / name.replace("test", "valid"), other / name)  # its test split is the valid split
    task, langs, _, golds = predict(moved["checkpoint"], str(other), "test")
    assert task.cfg.data == str(other)
    _, langs_v, _, golds_v = predict(moved["checkpoint"], moved["data"], "valid")
    _, _, _, golds_t = predict(moved["checkpoint"], moved["data"], "test")
    assert (langs, golds) == (langs_v, golds_v) and golds != golds_t


def test_teacher_cache_retrieval_and_represent_load_with_moved_data(moved, tmp_path):
    from xtune_fairseq.evaluation import load_encoder
    from xtune_fairseq.cli.teacher_cache import main as cache_main

    assert cache_main(["--teacher", moved["checkpoint"], "--data", moved["data"], "--out", str(tmp_path / "c.pt")]) == 0
    enc = load_encoder(moved["checkpoint"], moved["data"])
    assert enc.sentence_vectors(["a b c"], layer=1).shape[0] == 1
    with pytest.raises(InputError, match=r"data-then.* is gone; pass --data"):
        load_encoder(moved["checkpoint"])


def test_data_with_other_labels_or_kind_names_both(moved, tmp_path):
    from xtune_fairseq.cli.evaluate import main as evaluate_main
    from xtune_fairseq.evaluation import predict

    other = copy_data(moved["data"], tmp_path / "abc", lambda i: i.update(labels=["a", "b", "c"]))
    with pytest.raises(InputError, match=r"checkpoint_last.pt predicts labels \[.*\], .*abc has \['a', 'b', 'c'\]"):
        predict(moved["checkpoint"], other, "valid")
    tagging = copy_data(moved["data"], tmp_path / "tags", lambda i: i.update(kind="tagging"))
    with pytest.raises(InputError, match=r"checkpoint_last.pt is a classification checkpoint but .*tags holds tagging"):
        predict(moved["checkpoint"], tagging, "valid")
    assert evaluate_main(["--checkpoint", moved["checkpoint"], "--data", other]) == 2
    vocab = copy_data(moved["data"], tmp_path / "vocab")
    lines = open(os.path.join(vocab, "input0", "dict.txt")).readlines()
    open(os.path.join(vocab, "input0", "dict.txt"), "w").writelines(lines[:-10])
    with pytest.raises(InputError, match=r"checkpoint_last.pt has \d+ vocabulary entries, .*vocab/input0/dict.txt \d+"):
        predict(moved["checkpoint"], vocab, "valid")


def test_a_pretrained_model_is_not_a_fine_tuned_checkpoint(tiny):
    from xtune_fairseq.evaluation import predict

    with pytest.raises(InputError, match=r"model.pt: a masked_lm checkpoint, not one fine-tuned with an xtune task"):
        predict(os.path.join(tiny["model"], "model.pt"), tiny["bin"], "valid")


def test_frozen_teacher_does_not_need_its_training_folder(tiny, moved):
    task, cfg, crit = make_task(tiny, "--r2-lambda", "1", "--teacher-path", moved["checkpoint"], criterion=True)
    assert crit._teacher is not None and task.cfg.data == tiny["bin"]


def test_teacher_labels_recorded_in_the_checkpoint_are_checked(tiny, moved, tmp_path):
    state = safe_load(moved["checkpoint"])
    with open(os.path.join(moved["data"], "xtune.json")) as f:
        assert state["task_state"]["labels"] == json.load(f)["labels"]
    state["task_state"]["labels"] = ["a", "b", "c"]
    path = saved(state, tmp_path / "t.pt")
    with pytest.raises(InputError, match=r"teacher was trained on labels \['a', 'b', 'c'\]"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", path, criterion=True)


# --- point 4: a teacher cache is tied to its teacher and its data --------------------------------

@pytest.fixture(scope="module")
def cache(tiny, moved, tmp_path_factory):
    from xtune_fairseq.cli.teacher_cache import main as cache_main

    path = tmp_path_factory.mktemp("cache") / "teacher-cache.pt"
    assert cache_main(["--teacher", moved["checkpoint"], "--data", tiny["bin"], "--out", str(path)]) == 0
    return str(path)


def test_cache_of_reshuffled_data_is_refused(tiny, cache, tmp_path):
    data = tmp_path / "shuffled"
    shutil.copytree(tiny["bin"], data)
    rows = (data / "meta" / "train.jsonl").read_text().splitlines(keepends=True)
    (data / "meta" / "train.jsonl").write_text("".join(rows[1:] + rows[:1]))
    task, _ = make_task({**tiny, "bin": str(data)}, "--data-augmentation", "mt", "--teacher-cache", cache)
    with pytest.raises(InputError, match=r"teacher-cache.pt: made from other training rows than .*shuffled.*"
                                         r"rebuild it: xtune-teacher-cache --teacher .* --data .*shuffled"):
        task.load_dataset("train")


def test_cache_of_another_teacher_is_refused_in_either_order(tiny, moved, cache, tmp_path):
    state = safe_load(moved["checkpoint"])
    state["model"][f"classification_heads.{HEAD}.out_proj.bias"] += 1
    other = saved(state, tmp_path / "other-teacher.pt")
    flags = ["--data-augmentation", "mt", "--r2-lambda", "1", "--teacher-cache", cache, "--teacher-path", other]
    message = r"teacher-cache.pt: made by another teacher than --teacher-path .*other-teacher.pt.*rebuild it"
    task, _, _ = make_task(tiny, *flags, criterion=True)
    with pytest.raises(InputError, match=message):
        task.load_dataset("train")
    task, cfg = make_task(tiny, *flags)
    task.load_dataset("train")
    with pytest.raises(InputError, match=message):
        task.build_criterion(cfg.criterion)
    same, _, _ = make_task(tiny, *flags[:-1], moved["checkpoint"], criterion=True)
    same.load_dataset("train")  # the teacher it was made by


def test_cache_without_provenance_is_refused(tiny, cache, tmp_path):
    old = safe_load(cache)
    old["format"] = 1
    for key in ("teacher_sha256", "data_fingerprint"):
        old.pop(key, None)
    path = saved(old, tmp_path / "old.pt")
    task, _ = make_task(tiny, "--data-augmentation", "mt", "--teacher-cache", path)
    with pytest.raises(InputError, match=r"old.pt: .*no record of its teacher and data; rebuild it: xtune-teacher"):
        task.load_dataset("train")


# --- point 5: a NaN teacher is an error ----------------------------------------------------------

def test_teacher_with_nan_weights_is_refused(tiny, moved, tmp_path):
    from xtune_fairseq.prepare import build_cache

    state = safe_load(moved["checkpoint"])
    state["model"][f"classification_heads.{HEAD}.out_proj.bias"][0] = float("nan")
    path = saved(state, tmp_path / "nan.pt")
    with pytest.raises(InputError, match=r"nan.pt: weights .*out_proj.bias hold NaN/inf"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", path, criterion=True)
    with pytest.raises(InputError, match=r"nan.pt: weights .*out_proj.bias hold NaN/inf"):
        build_cache(path, tiny["bin"])


def test_nan_teacher_logits_stop_training_naming_the_teacher(tiny, moved):
    task, cfg, crit = make_task(tiny, "--r1-lambda", "0", "--r2-lambda", "1", "--teacher-path", moved["checkpoint"],
                                criterion=True)
    model = task.build_model(cfg.model).train()
    task.load_dataset("train")
    ds = task.dataset("train").dataset
    sample = ds.collater([ds[i] for i in range(4)])
    crit._teacher.frozen.model.classification_heads[HEAD].out_proj.bias.data[0] = float("nan")  # e.g. an fp16 overflow
    with pytest.raises(NonFiniteLoss, match=r"checkpoint_last.pt: the teacher's logits are NaN/inf"):
        crit(model, sample)


def test_cache_with_nan_logits_is_refused(tiny, cache, tmp_path):
    bad = safe_load(cache)
    bad["original"][3, 1] = float("nan")
    path = saved(bad, tmp_path / "nan-cache.pt")
    task, _ = make_task(tiny, "--data-augmentation", "mt", "--teacher-cache", path)
    with pytest.raises(InputError, match=r"nan-cache.pt: holds NaN/inf teacher logits"):
        task.load_dataset("train")
