"""xtune_consistency on the tiny model: each term against a direct computation, the teacher
frozen and outside the state dict, and clear errors for incompatible teachers."""

import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from conftest import fairseq_train, make_task, train_args
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.consistency import symmetric_kl, teacher_hard_ce, teacher_kl
from xtune_fairseq.core.errors import InputError

HEAD = "sentence_classification_head"
NO_DROPOUT = ["--dropout", "0", "--attention-dropout", "0", "--pooler-dropout", "0"]


@pytest.fixture(scope="module")
def stage1(tiny, tmp_path_factory):
    save = tmp_path_factory.mktemp("stage1")
    fairseq_train(train_args(tiny, save, "--r1-lambda", "0"))
    return str(save / "checkpoint_best.pt")


def batch_of(task, n=6, split="train"):
    task.load_dataset(split)
    ds = task.dataset(split).dataset
    ds.set_epoch(1)
    return ds.collater([ds[i] for i in list(range(n // 2)) + list(range(len(ds) - n // 2, len(ds)))])


def logits(model, tokens):
    return model(tokens, classification_head_name=HEAD)[0]


@pytest.mark.parametrize("reduction,scale", [("batchmean", 1.0), ("authors_mean", 1 / 3)])
def test_loss_is_nll_plus_lambda1_r1(tiny, reduction, scale):
    task, cfg, crit = make_task(tiny, "--r1-augmentation", "ss", "--subword-ratio", "1", "--subword-alpha", "0.02",
                                "--r1-lambda", "5", "--kl-reduction", reduction, *NO_DROPOUT, criterion=True)
    model = task.build_model(cfg.model).train()
    sample = batch_of(task)
    loss, sample_size, log = crit(model, sample)
    a = logits(model, sample["net_input"]["src_tokens"])  # each view on its own, not concatenated
    b = logits(model, sample["partner"]["src_tokens"])
    nll = F.cross_entropy(a.float(), sample["target"], reduction="sum")
    r1 = symmetric_kl(a, b).sum()
    assert sample_size == 6
    assert r1 > 0
    assert torch.allclose(log["r1_loss"], scale * r1, atol=1e-4)
    assert torch.allclose(loss, nll + 5 * scale * r1, atol=1e-4)


def test_no_partner_forward_without_lambda1(tiny):
    task, cfg, crit = make_task(tiny, "--r1-augmentation", "ss", "--r1-lambda", "0", *NO_DROPOUT, criterion=True)
    model = task.build_model(cfg.model).train()
    sample = batch_of(task)
    loss, _, log = crit(model, sample)
    nll = F.cross_entropy(logits(model, sample["net_input"]["src_tokens"]).float(), sample["target"], reduction="sum")
    assert torch.allclose(loss, nll, atol=1e-5) and log["r1_loss"] == 0


@pytest.mark.parametrize("hard,rows", [(False, "all"), (True, "all"), (False, "augmented")])
def test_r2_against_teacher_computed_directly(tiny, stage1, hard, rows):
    flags = ["--data-augmentation", "cs", "--code-switch-dicts", tiny["dicts"], "--r1-lambda", "0",
             "--r2-lambda", "2", "--teacher-path", stage1, "--r2-rows", rows, "--kl-reduction", "batchmean",
             *NO_DROPOUT]
    if hard:
        flags.append("--r2-hard-labels")
    task, cfg, crit = make_task(tiny, *flags, criterion=True)
    model = task.build_model(cfg.model).train()
    sample = batch_of(task)
    assert sample["is_aug"].tolist() == [False] * 3 + [True] * 3
    loss, _, log = crit(model, sample)
    loss.backward()

    from fairseq import checkpoint_utils

    teacher = checkpoint_utils.load_model_ensemble([stage1], task=task)[0][0].eval()
    tokens = sample["net_input"]["src_tokens"]
    with torch.no_grad():
        t, s = logits(teacher, tokens), logits(model, tokens)
    per_row = teacher_hard_ce(t, s) if hard else teacher_kl(t, s)
    if rows == "augmented":
        per_row = per_row[sample["is_aug"]]
    assert torch.allclose(log["r2_loss"], per_row.sum(), atol=1e-4)
    nll = F.cross_entropy(s, sample["target"], reduction="sum")
    assert torch.allclose(loss.detach(), nll + 2 * per_row.sum(), atol=1e-4)

    frozen = crit._teacher.frozen.model
    assert not crit.state_dict() and not list(crit.parameters())
    assert all(not p.requires_grad and p.grad is None for p in frozen.parameters())
    assert not frozen.training
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_r2_without_teacher_is_an_error(tiny):
    with pytest.raises(InputError, match="--teacher-path"):
        make_task(tiny, "--r2-lambda", "1", criterion=True)


def _edited_teacher(stage1, tmp_path, edit):
    state = safe_load(stage1)
    edit(state)
    path = tmp_path / "teacher.pt"
    torch.save(state, path)
    return str(path)


def test_teacher_with_other_label_count(tiny, stage1, tmp_path):
    def edit(state):
        for k in ("out_proj.weight", "out_proj.bias"):
            key = f"classification_heads.{HEAD}.{k}"
            state["model"][key] = state["model"][key][:2]

    path = _edited_teacher(stage1, tmp_path, edit)
    with pytest.raises(InputError, match="teacher predicts 2 labels, the student 3"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", path, criterion=True)


def test_teacher_with_other_vocabulary(tiny, stage1, tmp_path):
    def edit(state):
        key = "encoder.sentence_encoder.embed_tokens.weight"
        state["model"][key] = state["model"][key][:100]

    path = _edited_teacher(stage1, tmp_path, edit)
    with pytest.raises(InputError, match="teacher vocabulary has 100 entries"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", path, criterion=True)


def test_teacher_with_other_label_names(tiny, stage1, tmp_path):
    other = tmp_path / "other-data"
    shutil.copytree(tiny["bin"], other)
    info = json.loads((other / "xtune.json").read_text())
    info["labels"] = ["a", "b", "c"]
    (other / "xtune.json").write_text(json.dumps(info))

    def edit(state):  # a checkpoint without recorded labels: those of its training folder count
        state["cfg"]["task"]["data"] = str(other)
        state["task_state"].pop("labels")

    path = _edited_teacher(stage1, tmp_path, edit)
    with pytest.raises(InputError, match=r"teacher was trained on labels \['a', 'b', 'c'\]"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", path, criterion=True)


def test_missing_teacher_checkpoint(tiny, tmp_path):
    with pytest.raises(InputError, match="checkpoint not found"):
        make_task(tiny, "--r2-lambda", "1", "--teacher-path", str(tmp_path / "nope.pt"), criterion=True)


def test_bf16_autocast_keeps_losses_finite_and_kl_in_float32(tiny):
    task, cfg, crit = make_task(tiny, "--r1-augmentation", "gn", "--noise-std", "0.01", "--r1-lambda", "5",
                                criterion=True)
    model = task.build_model(cfg.model).train()
    sample = batch_of(task)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _, log = crit(model, sample)
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert log["r1_loss"].dtype == torch.float32 and torch.isfinite(log["r1_loss"]) and log["r1_loss"] > 0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_cached_teacher_gives_the_same_r2_without_a_teacher_forward(tiny, stage1, tmp_path):
    from xtune_fairseq.cli.teacher_cache import main as cache_main

    path = tmp_path / "teacher-cache.pt"
    assert cache_main(["--teacher", stage1, "--data", tiny["bin"], "--out", str(path)]) == 0
    common = ["--data-augmentation", "mt", "--r1-lambda", "0", "--r2-lambda", "2", *NO_DROPOUT]
    task, cfg, online = make_task(tiny, *common, "--teacher-path", stage1, criterion=True)
    model = task.build_model(cfg.model).train()
    sample = batch_of(task)
    _, _, log_online = online(model, sample)

    task_c, _, cached = make_task(tiny, *common, "--teacher-cache", str(path), criterion=True)
    assert cached._teacher.frozen is None  # nothing to run: every input of D + MT(D) is fixed
    sample_c = batch_of(task_c)
    assert torch.equal(sample_c["net_input"]["src_tokens"], sample["net_input"]["src_tokens"])
    assert "teacher_logits" in sample_c and sample_c["is_aug"].any()
    _, _, log_cached = cached(model, sample_c)
    assert log_online["r2_loss"] > 0
    assert torch.allclose(log_cached["r2_loss"], log_online["r2_loss"], atol=1e-5)


def test_cache_for_other_data_is_refused(tiny, stage1, tmp_path):
    from xtune_fairseq.prepare import build_cache

    cache = build_cache(stage1, tiny["bin"])
    cache["n_examples"] -= 1
    path = tmp_path / "wrong.pt"
    torch.save(cache, path)
    task, _ = make_task(tiny, "--data-augmentation", "mt", "--r2-lambda", "1", "--teacher-cache", str(path))
    with pytest.raises(InputError, match="made for 599 training examples"):
        task.load_dataset("train")


def test_cache_translation_rows_become_first_rows(tiny, stage1, tmp_path):
    """The cache's {id: rows} is held as one int64 first row per training row (shared by loader
    workers); rows that are not consecutive cannot be, and are refused."""
    from xtune_fairseq.prepare import build_cache

    cache = build_cache(stage1, tiny["bin"])
    path = tmp_path / "cache.pt"
    torch.save(cache, path)
    task, _ = make_task(tiny, "--data-augmentation", "mt", "--r2-lambda", "1", "--teacher-cache", str(path))
    ds = task.load_dataset("train").dataset
    first = ds.teacher_cache["translation_first"]
    assert first.dtype == torch.int64 and "translation_rows" not in ds.teacher_cache
    assert [int(first[i]) for i in range(len(ds.examples))] == [cache["translation_rows"][ex.id][0]
                                                                   for ex in ds.examples]
    some = next(i for i, rows in cache["translation_rows"].items() if len(rows) > 1)
    cache["translation_rows"][some] = cache["translation_rows"][some][::-1]
    torch.save(cache, path)
    task, _ = make_task(tiny, "--data-augmentation", "mt", "--r2-lambda", "1", "--teacher-cache", str(path))
    with pytest.raises(InputError, match=f"rows of '{some}' are not consecutive"):
        task.load_dataset("train")


def test_resampled_rows_without_teacher_path_are_an_error(tiny, stage1, tmp_path):
    from xtune_fairseq.cli.teacher_cache import main as cache_main

    path = tmp_path / "c.pt"
    cache_main(["--teacher", stage1, "--data", tiny["bin"], "--out", str(path)])
    task, cfg, crit = make_task(tiny, "--data-augmentation", "ss", "--r1-lambda", "0", "--r2-lambda", "1",
                                "--teacher-cache", str(path), criterion=True)
    model = task.build_model(cfg.model).train()
    with pytest.raises(InputError, match="need --teacher-path besides --teacher-cache"):
        crit(model, batch_of(task))


def test_partly_cached_batches_run_the_teacher_on_the_other_rows_only(tiny, stage1, tmp_path):
    """Stage 2 with code-switch: originals come from the cache, switched rows from one teacher
    forward over those rows; R2 is the same as with the teacher on every row."""
    from xtune_fairseq.cli.teacher_cache import main as cache_main

    path = tmp_path / "teacher-cache.pt"
    assert cache_main(["--teacher", stage1, "--data", tiny["bin"], "--out", str(path)]) == 0
    common = ["--data-augmentation", "cs", "--code-switch-dicts", tiny["dicts"], "--r1-lambda", "0",
              "--r2-lambda", "2", "--teacher-path", stage1, *NO_DROPOUT]
    task, cfg, online = make_task(tiny, *common, criterion=True)
    model = task.build_model(cfg.model).train()
    _, _, log_online = online(model, batch_of(task))
    task_c, _, mixed = make_task(tiny, *common, "--teacher-cache", str(path), criterion=True)
    sample = batch_of(task_c)
    assert 0 < int(sample["teacher_cached"].sum()) < sample["teacher_cached"].numel()
    rows_seen = []
    forward = mixed._teacher.frozen.predictions
    mixed._teacher.frozen.predictions = lambda view, *a, **k: rows_seen.append(view["src_tokens"].size(0)) or forward(view, *a, **k)
    _, _, log_mixed = mixed(model, sample)
    assert rows_seen == [int((~sample["teacher_cached"]).sum())]
    assert log_online["r2_loss"] > 0
    assert torch.allclose(log_mixed["r2_loss"], log_online["r2_loss"], atol=1e-5)
