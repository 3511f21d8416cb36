"""Each recipe's defaults give the authors' effective objective: one fixed batch through the
criterion, built with the fairseq flags xtune-pipeline writes for the recipe, has the loss value
and the gradients of the authors' formulas re-implemented here on views computed one row at a time:

  KL(input, target) = F.kl_div(log_softmax(input), softmax(target)), PyTorch's default 'mean'
  loss = CE (mean over labelled items) + lambda1 * [KL(B, sg(A)) + KL(A, sg(B))]
         + lambda2 * KL(student[aug], teacher[aug])      (R2 on the augmented copies only)

QA sums the KL over positions and divides by rows, averages R1's two directions and R2's start
and end. These tests fail with the paper-formula scaling (--kl-reduction batchmean), which is
C times larger for classification and tagging.
"""

import os
import shutil

import pytest
import torch
import torch.nn.functional as F

from conftest import fairseq_train, make_task, train_args
from test_span_extraction import WINDOWS, qa  # noqa: F401 (fixture)
from test_tagging import tag_args, tagging  # noqa: F401 (fixture)
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.cli import pipeline
from xtune_fairseq.core.data.prepared import read_data_info
from xtune_fairseq.core.data.targets import IGNORE
from xtune_fairseq.core.recipes import RECIPES
from xtune_fairseq.pipeline.commands import train_command
from xtune_fairseq.pipeline.config import resolve_kind_defaults

NO_DROPOUT = ("--dropout", "0", "--attention-dropout", "0", "--pooler-dropout", "0")
# every regularizer term is at least this large in the fixed batch, several times the loss tolerance
# (rel 1e-4 of a loss of a few units): scaling a term by the label count (>= 3) cannot pass
WEIGHS = 5e-4


def kl_mean(input_logits, target_logits):
    """The authors' KL(input, target): KL(softmax(target) || softmax(input)), mean over all elements."""
    return F.kl_div(F.log_softmax(input_logits.float(), -1), F.softmax(target_logits.float(), -1), reduction="mean")


def kl_sum(p_logits, q_logits):
    """KL(softmax(p) || softmax(q)) summed over the last axis (the authors' KL_probs)."""
    p_log, q_log = F.log_softmax(p_logits.float(), -1), F.log_softmax(q_logits.float(), -1)
    return (p_log.exp() * (p_log - q_log)).sum(-1)


def recipe_flags(data, model, recipe, teacher, tmp_path, stage=2, extra=()):
    """The fairseq-train flags xtune-pipeline writes for this recipe and stage."""
    out = tmp_path / "run"
    os.makedirs(out / "stage1", exist_ok=True)
    for name in ("best", "last"):
        shutil.copyfile(teacher, out / "stage1" / f"checkpoint_{name}.pt")
    a = pipeline.parse(["--model-dir", model, "--data", data, "--out", str(out), "--recipe", recipe, *extra])
    info = read_data_info(data)
    resolve_kind_defaults(a, info["kind"], info["labels"])
    cmd = train_command(a, stage, str(tmp_path / "save"), 100)
    return cmd[cmd.index(data) + 1:]


def train_rows(task):
    task.load_dataset("train")
    inner = task.dataset("train").dataset
    inner.set_epoch(1)
    return inner


def mixed_rows(inner, n=3):
    """n original rows and n augmented copies (none in stage 1)."""
    return list(range(n)) + list(range(inner.n_original, min(inner.n_original + n, len(inner))))


def collate(inner, rows):
    return inner.collater([inner[i] for i in rows])


def gradients(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def assert_same_objective(model, ours, authors):
    assert float(ours) == pytest.approx(float(authors), rel=1e-4, abs=1e-6)
    for g_ours, g_authors in zip(gradients(model, ours), gradients(model, authors)):
        assert torch.allclose(g_ours, g_authors, rtol=1e-3, atol=1e-6)


def unpadded(tokens, pad):
    return tokens[: int((tokens != pad).sum())]


# --- classification -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cls_teacher(tiny, tmp_path_factory):
    save = tmp_path_factory.mktemp("cls-stage1")
    fairseq_train(train_args(tiny, save, "--r1-lambda", "0"))
    return str(save / "checkpoint_best.pt")


@pytest.mark.parametrize("recipe,stage", [("xnli", 2), ("xnli", 1), ("pawsx", 2), ("xnli-translate-train", 2)])
def test_classification_recipe_is_the_authors_objective(tiny, cls_teacher, tmp_path, recipe, stage):
    from fairseq import checkpoint_utils

    # every dictionary word switched: R1 large enough to tell the scalings apart
    flags = recipe_flags(tiny["bin"], tiny["model"], recipe, cls_teacher, tmp_path, stage,
                         ["--code-switch-dicts", tiny["dicts"], "--code-switch-ratio", "1.0"])
    task, cfg, crit = make_task(tiny, *flags, *NO_DROPOUT, criterion=True)
    assert crit.cfg.kl_reduction == "authors_mean" and crit.cfg.r2_rows == "augmented"
    model = task.build_model(cfg.model).train()
    # the student starts from the stage-1 model (sensitive to its inputs, unlike a random head),
    # its head changed so that R2 is not zero
    model.load_state_dict(safe_load(cls_teacher)["model"])
    with torch.no_grad():
        model.classification_heads["sentence_classification_head"].out_proj.weight.mul_(4)
    inner = train_rows(task)
    sample = collate(inner, mixed_rows(inner))
    loss, sample_size, _ = crit(model, sample)

    head = dict(classification_head_name="sentence_classification_head")
    a = model(sample["net_input"]["src_tokens"], **head)[0]  # each view on its own
    b = model(sample["partner"]["src_tokens"], **head)[0]
    lam1, lam2 = RECIPES[recipe]["lambda1"], RECIPES[recipe]["lambda2"]
    r1 = kl_mean(b, a.detach()) + kl_mean(a, b.detach())
    assert float(lam1 * r1) > WEIGHS
    authors = F.cross_entropy(a.float(), sample["target"]) + lam1 * r1
    if stage == 2:
        teacher = checkpoint_utils.load_model_ensemble([cls_teacher], task=task)[0][0].eval()
        with torch.no_grad():
            t = teacher(sample["net_input"]["src_tokens"], **head)[0]
        aug = sample["is_aug"]
        assert 0 < int(aug.sum()) < len(aug)
        r2 = kl_mean(a[aug], t[aug])
        assert float(lam2 * r2) > WEIGHS
        authors = authors + lam2 * r2
    assert_same_objective(model, loss / sample_size, authors)


# --- sequence labelling (translated rows carry no tags) ---------------------------------------

@pytest.fixture(scope="module")
def tag_teacher(tagging, tmp_path_factory):
    save = tmp_path_factory.mktemp("tag-stage1")
    fairseq_train(tag_args(tagging, save, "--r1-lambda", "0"))
    return str(save / "checkpoint_best.pt")


def word_logits(task, model, tokens, word_of_token, pooling):
    """Per word: the sum (the authors' POS) or the first of its subword states, then the head."""
    pad = task.source_dictionary.pad()
    tokens = unpadded(tokens, pad)
    wot = word_of_token[: tokens.numel()]
    states = model.token_states(tokens[None])[0][0]
    words = []
    for w in range(int(wot.max()) + 1):
        pos = (wot == w).nonzero().squeeze(1)
        words.append(states[pos].sum(0) if pooling == "sum" else states[pos[0]])
    return model.token_heads[task.cfg.token_head_name](torch.stack(words))


@pytest.mark.parametrize("recipe", ["pos-translate-train", "ner-translate-train", "pos"])
def test_tagging_recipe_is_the_authors_objective(tagging, tag_teacher, tmp_path, recipe):
    from fairseq import checkpoint_utils

    # every word re-sampled into small pieces: R1 large enough to tell the scalings apart
    flags = recipe_flags(tagging["bin"], tagging["model"], recipe, tag_teacher, tmp_path,
                         extra=["--subword-ratio", "1.0", "--fairseq-args", "--subword-alpha 0.02"])
    task, cfg, crit = make_task(tagging, *flags, *NO_DROPOUT, criterion=True, task="xtune_sequence_labeling")
    model = task.build_model(cfg.model).train()
    inner = train_rows(task)
    sample = collate(inner, mixed_rows(inner))
    loss, sample_size, _ = crit(model, sample)

    pooling = RECIPES[recipe]["word_pooling"]
    teacher = checkpoint_utils.load_model_ensemble([tag_teacher], task=task)[0][0].eval()
    net, part = sample["net_input"], sample["partner"]
    a, b, t, gold, aug_words = [], [], [], [], []
    for r in range(net["src_tokens"].size(0)):
        la = word_logits(task, model, net["src_tokens"][r], net["word_of_token"][r], pooling)
        lb = word_logits(task, model, part["src_tokens"][r], part["word_of_token"][r], pooling)
        with torch.no_grad():
            lt = word_logits(task, teacher, net["src_tokens"][r], net["word_of_token"][r], pooling)
        assert la.size(0) == lb.size(0)
        a.append(la), b.append(lb), t.append(lt)
        gold.append(sample["target"][r, : la.size(0)])
        aug_words.append(torch.full((la.size(0),), bool(sample["is_aug"][r])))
    a, b, t, gold, aug = torch.cat(a), torch.cat(b), torch.cat(t), torch.cat(gold), torch.cat(aug_words)
    labelled = gold != IGNORE
    if "translate" in recipe:
        assert 0 < int(labelled.sum()) < len(labelled)  # the translated rows are untagged
    lam1, lam2 = RECIPES[recipe]["lambda1"], RECIPES[recipe]["lambda2"]
    if RECIPES[recipe].get("r2_hard_labels"):
        r2 = F.cross_entropy(a[aug].float(), t[aug].argmax(-1))
    else:
        r2 = kl_mean(a[aug], t[aug])
    r1 = kl_mean(b, a.detach()) + kl_mean(a, b.detach())
    assert float(lam1 * r1) > WEIGHS and float(lam2 * r2) > WEIGHS
    authors = F.cross_entropy(a[labelled].float(), gold[labelled]) + lam1 * r1 + lam2 * r2
    assert sample_size == int(labelled.sum())
    assert_same_objective(model, loss / sample_size, authors)


# --- span extraction ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qa_teacher(qa, tmp_path_factory):
    save = tmp_path_factory.mktemp("qa-stage1")
    fairseq_train(train_args(qa, save, *WINDOWS, "--r1-lambda", "0", task="xtune_span_extraction"))
    return str(save / "checkpoint_last.pt")


def bucket_probs(logits, kept):
    """Softmax over the window, the kept positions' probabilities and one bucket with the rest."""
    p = F.softmax(logits.float(), -1)
    kept_p = p[torch.tensor(kept, dtype=torch.long)]
    return torch.cat([kept_p, (1 - kept_p.sum()).clamp(min=0).view(1)])


def kl_probs(input_p, target_p):
    """The authors' KL_probs: sum of target * (log target - log input) over non-zero targets."""
    nz = target_p > 0
    return (target_p[nz] * (target_p[nz].log() - input_p[nz].log())).sum()


@pytest.mark.parametrize("recipe", ["xquad", "xquad-translate-train"])
def test_qa_recipe_is_the_authors_objective(qa, qa_teacher, tmp_path, recipe):
    from fairseq import checkpoint_utils

    flags = recipe_flags(qa["bin"], qa["model"], recipe, qa_teacher, tmp_path, extra=["--code-switch-dicts", qa["dicts"]])
    task, cfg, crit = make_task(qa, *flags, *WINDOWS, *NO_DROPOUT, criterion=True, task="xtune_span_extraction")
    assert crit.cfg.teacher_path.endswith("checkpoint_last.pt")  # the authors' QA teacher: the last stage-1 model
    model = task.build_model(cfg.model).train()
    inner = train_rows(task)
    items = [inner[i] for i in mixed_rows(inner, 4)]
    sample = inner.collater(items)
    loss, sample_size, _ = crit(model, sample)

    teacher = checkpoint_utils.load_model_ensemble([qa_teacher], task=task)[0][0].eval()
    n = len(items)
    ce = r1 = r2 = 0.0
    for item, is_aug in zip(items, sample["is_aug"].tolist()):
        la = task.predictions(model, {"src_tokens": item["source"][None]})[0][0]  # (2, positions)
        lb = task.predictions(model, {"src_tokens": item["partner"][None]})[0][0]
        ce = ce + (F.cross_entropy(la.float(), item["target"], reduction="sum")) / 2
        kept_a, kept_b = item["aligned"]
        for k in (0, 1):  # start, end
            pa, pb = bucket_probs(la[k], kept_a), bucket_probs(lb[k], kept_b)
            forward, backward = kl_probs(pb, pa.detach()), kl_probs(pa, pb.detach())
            r1 = r1 + (forward + backward) / 2
        if is_aug:
            with torch.no_grad():
                lt = task.predictions(teacher, {"src_tokens": item["source"][None]})[0][0]
            r2 = r2 + (kl_sum(lt[0], la[0]) + kl_sum(lt[1], la[1])) / 2
    n_aug = int(sample["is_aug"].sum())
    assert 0 < n_aug < n
    lam1, lam2 = RECIPES[recipe]["lambda1"], RECIPES[recipe]["lambda2"]
    assert float(lam1 * r1 / n) > WEIGHS and float(lam2 * r2 / n_aug) > WEIGHS
    authors = ce / n + lam1 * r1 / n + lam2 * r2 / n_aug
    assert_same_objective(model, loss / sample_size, authors)


def test_every_recipe_sets_only_pipeline_flags_and_explicit_flags_win(tiny, tmp_path):
    base = ["--model-dir", tiny["model"], "--data", tiny["bin"], "--out", str(tmp_path)]
    for name in RECIPES:
        pipeline.parse(base + ["--recipe", name])
    assert pipeline.parse(base + ["--recipe", "pawsx"]).code_switch_ratio == 0.5
    assert pipeline.parse(base + ["--recipe", "pawsx", "--code-switch-ratio", "0.2"]).code_switch_ratio == 0.2
    assert not pipeline.parse(base + ["--recipe", "ner", "--no-r2-hard-labels"]).r2_hard_labels
    a = pipeline.parse(base + ["--recipe", "xnli"])
    resolve_kind_defaults(a, "classification", ["pos", "neg"])
    assert (a.warmup_ratio, a.best_metric, a.clip_norm, a.weight_decay, a.adam_eps) == (0.0, "avg_acc", 1.0, 0.0, 1e-8)
    a = pipeline.parse(base + ["--recipe", "ner"])
    resolve_kind_defaults(a, "tagging", ["O", "B-PER", "I-PER"])
    assert (a.warmup_ratio, a.best_metric) == (0.1, "avg_f1")
