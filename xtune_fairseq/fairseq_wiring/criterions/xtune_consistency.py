"""`xtune_consistency`: task loss + lambda1 * R1 + lambda2 * R2 (paper 3.1.3)."""

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass

from xtune_fairseq.core.augment.gaussian_noise import noise_rows, noised_embeddings, views_noise
from xtune_fairseq.core.batch import Batch, Partner
from xtune_fairseq.core.consistency import masked_sum, teacher_hard_ce, teacher_kl
from xtune_fairseq.core.data.targets import IGNORE, items
from xtune_fairseq.core.errors import InputError, NonFiniteLoss
from xtune_fairseq.core.metrics.entities import f1_from_counts
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.fairseq_wiring.teacher import Teacher
from xtune_fairseq.core.word_alignment import NO_WORD


F1_PARTS = ("f1_correct", "f1_pred", "f1_gold")  # summable parts of a micro F1


@dataclass
class XtuneConsistencyConfig(FairseqDataclass):
    classification_head_name: str = field(
        default="sentence_classification_head",
        metadata={"help": "kept for sentence_prediction's config; the task's head is the one trained"}
    )
    regression_target: bool = field(default=False, metadata={"help": "unsupported; kept for sentence_prediction's config"})
    r1_lambda: float = field(default=5.0, metadata={"help": "lambda1: weight of R1 (example consistency)"})
    r2_lambda: float = field(default=0.0, metadata={"help": "lambda2: weight of R2 (model consistency); needs --teacher-path"})
    r1_no_stopgrad: bool = field(
        default=False, metadata={"help": "back-propagate through both sides of R1 (the paper's w/o stopgrad ablation)"}
    )
    teacher_path: Optional[str] = field(default=None, metadata={"help": "stage-1 checkpoint: the frozen teacher theta* of R2"})
    r2_hard_labels: bool = field(default=False, metadata={"help": "R2 as cross-entropy on the teacher's argmax"})
    r2_rows: ChoiceEnum(["augmented", "all"]) = field(
        default="augmented",
        metadata={"help": "rows of D_A that R2 covers: the augmented copies (the authors' code) or all of "
                  "D + A(D) (the paper's formula)"},
    )
    kl_reduction: ChoiceEnum(["authors_mean", "batchmean"]) = field(
        default="authors_mean",
        metadata={"help": "authors_mean: every term is a mean over its own items as in the authors' code (task "
                  "loss over labelled items, R1 over compared items, R2 over R2 rows; KL also divided by the "
                  "number of labels for classification and tagging, PyTorch's 'mean'; QA: positions summed, "
                  "R1's directions averaged), so the paper's lambdas mean what they meant there; batchmean: "
                  "the paper's sums, every term divided by the labelled items"},
    )


@register_criterion("xtune_consistency", dataclass=XtuneConsistencyConfig)
class XtuneConsistencyCriterion(FairseqCriterion):
    def __init__(self, cfg: XtuneConsistencyConfig, task):
        super().__init__(task)
        check_ranges(cfg)  # --r1-lambda/--r2-lambda: NaN or < 0 silently turned a term off
        if cfg.regression_target:
            raise InputError("xtune_consistency does not support --regression-target")
        cached = task.uses_teacher_cache() if hasattr(task, "uses_teacher_cache") else False
        if cfg.r2_lambda > 0 and not cfg.teacher_path and not cached:
            raise InputError("--r2-lambda > 0 needs --teacher-path (the stage-1 checkpoint)")
        self.cfg = cfg
        self.languages = list(getattr(task, "languages", []))
        # a plain attribute, not a submodule: the teacher stays out of state_dict and DDP
        self._teacher = Teacher.load(cfg.teacher_path, task, self.padding_idx) if cfg.r2_lambda > 0 else None

    def forward(self, model, sample: Batch, reduce=True):
        """Every task kind predicts (rows, items, labels) logits with a (rows, items) mask of real items:
        one item per sentence (classification), per word (tagging) or start and end (QA). The returned
        loss is divided by fairseq's sample_size, the number of labelled items."""
        view = dict(sample["net_input"])
        batch = view["src_tokens"].size(0)
        partner = sample.get("partner") if model.training and self.cfg.r1_lambda > 0 else None
        if partner is not None:  # both views in one forward pass
            view = _cat_views(view, partner, self.padding_idx)
        embed_tokens = model.encoder.sentence_encoder.embed_tokens
        noise = self._noise(model, embed_tokens, view["src_tokens"], sample.get("is_aug"), partner is not None)
        with noised_embeddings(embed_tokens, noise):
            logits, valid = self.task.predictions(model, view)
        logits_in, valid_in = logits[:batch], valid[:batch]
        n_labels = logits.size(-1)

        target = items(sample["target"], logits_in.size(1))
        labelled = valid_in & (target != IGNORE)
        lprobs = F.log_softmax(logits_in, dim=-1, dtype=torch.float32)
        nll = F.nll_loss(lprobs[labelled], target[labelled], reduction="sum")
        # the task loss is a mean over labelled items (untagged translation rows add none)
        sample_size = max(int(labelled.sum()), 1)
        r1 = r2 = torch.zeros((), device=logits.device)
        r1_items = r2_items = 0
        if partner is not None:
            r1, r1_items = self.task.r1(logits_in, logits[batch:], valid_in, valid[batch:], sample,
                                        stop_gradient=not self.cfg.r1_no_stopgrad)
        if self.cfg.r2_lambda > 0 and model.training:
            in_noise = None if noise is None else noise[:batch, : sample["net_input"]["src_tokens"].size(1)]
            r2, r2_items = self._r2(sample, in_noise, logits_in, valid_in)
        if self.cfg.kl_reduction == "authors_mean" and model.training and (self.cfg.r1_lambda or self.cfg.r2_lambda):
            r1, r2 = self._authors_means(r1, r1_items, r2, r2_items, sample_size, logits.size(-1), logits.device)
        loss = nll + self.cfg.r1_lambda * r1 + self.cfg.r2_lambda * r2

        if model.training and not torch.isfinite(loss):
            raise NonFiniteLoss(
                f"non-finite training loss (nll {nll.item():.4g}, r1 {r1.item():.4g}, r2 {r2.item():.4g}) on "
                f"examples {sample['id'][:8].tolist()}; stopped before the update, no checkpoint overwritten "
                "(lower --lr, check --r1-lambda/--r2-lambda and the inputs)"
            )
        correct = (lprobs.argmax(-1) == target) & labelled
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll.data,
            "r1_loss": r1.data,
            "r2_loss": r2.data,
            "ntokens": sample["ntokens"],
            "nsentences": batch,
            "sample_size": sample_size,
            "ncorrect": correct.sum().item(),
            "nlabelled": labelled.sum().item(),
        }
        # dev F1 (NER entities, QA span tokens) as summable counts; None where accuracy selects
        f1 = None if model.training else self.task.f1_counts(logits_in, target, labelled)
        logging_output.update(self._per_language(sample.get("lang"), correct, labelled, f1))
        return loss, sample_size, logging_output

    def _noise(self, model, embed_tokens, tokens, is_aug, with_partners: bool):
        """GN's noise (rows, tokens, dim) on the word embeddings of the rows that are GN views, in
        training; else None."""
        if not model.training or is_aug is None:
            return None
        rows = noise_rows(self.task.cfg, is_aug, with_partners)
        if not bool(rows.any()):
            return None
        return views_noise(self.task.cfg, (tokens.size(0), tokens.size(1), embed_tokens.embedding_dim), rows)

    def _r2(self, sample: Batch, noise, logits, valid):
        """R2 summed over its items (the augmented copies' items, or every row's), and their number."""
        t_logits = self._teacher.predictions(sample, noise, like=logits)
        rows = valid
        if self.cfg.r2_rows == "augmented":
            rows = rows & sample["is_aug"].unsqueeze(1)
        per_item = teacher_hard_ce if self.cfg.r2_hard_labels else teacher_kl
        return masked_sum(per_item(t_logits, logits), rows), rows.sum()

    def _authors_means(self, r1, r1_items, r2, r2_items, sample_size, n_labels, device):
        """Each term a mean over its own items in the authors' KL unit, in the units of the returned
        loss (fairseq divides that by sample_size); the counts are summed over data-parallel ranks,
        so that N ranks with batch B train as one process with batch N x B."""
        total, n_r1, n_r2 = _global_sums([sample_size, int(r1_items), int(r2_items)], device)
        r1 = r1 * (self.task.kl_scale(n_labels, symmetric=True) * total / max(n_r1, 1))
        # the hard-label variant is a cross-entropy: no label axis to divide by
        r2_unit = 1.0 if self.cfg.r2_hard_labels else self.task.kl_scale(n_labels, symmetric=False)
        return r1, r2 * (r2_unit * total / max(n_r2, 1))

    def _per_language(self, lang, correct, labelled, f1) -> dict:
        """Correct / labelled items (and F1 counts) per language: every key on every rank, as DDP sums
        logging dicts key by key."""
        out = {}
        for i, name in enumerate(self.languages):
            rows = (lang == i) if lang is not None else torch.zeros(correct.size(0), dtype=torch.bool,
                                                                    device=correct.device)
            in_lang = rows.unsqueeze(1) & labelled
            out[f"ncorrect_lang:{name}"] = (correct & in_lang).sum().item()
            out[f"nsentences_lang:{name}"] = in_lang.sum().item()
            if f1 is not None:
                for j, part in enumerate(F1_PARTS):
                    out[f"{part}_lang:{name}"] = f1[rows, j].sum().item()
        return out

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):  # plain numbers: after DDP's all-reduce the values are tensors
            return float(sum(log.get(key, 0) for log in logging_outputs))

        sample_size = total("sample_size")
        if sample_size == 0:
            return
        for key, digits in (("loss", 3), ("nll_loss", 3), ("r1_loss", 5), ("r2_loss", 5)):
            metrics.log_scalar(key, total(key) / sample_size / math.log(2), sample_size, round=digits)
        nlabelled = total("nlabelled")
        if nlabelled:  # labelled items: sentences (classification) or tagged words (tagging)
            metrics.log_scalar("accuracy", 100.0 * total("ncorrect") / nlabelled, nlabelled, round=1)
        langs = sorted({k.split(":", 1)[1] for log in logging_outputs for k in log if k.startswith("nsentences_lang:")})
        seen = []
        for name in langs:
            n = total(f"nsentences_lang:{name}")
            if n == 0:
                continue
            seen.append(name)
            metrics.log_scalar_sum(f"_ncorrect_{name}", total(f"ncorrect_lang:{name}"))
            metrics.log_scalar_sum(f"_n_{name}", n)
            metrics.log_derived(f"acc_{name}", _lang_accuracy(name))
        if seen:
            metrics.log_derived("avg_acc", _average_accuracy)
        if any(k.startswith(f"{F1_PARTS[0]}_lang:") for log in logging_outputs for k in log):
            for name in seen:
                for part in F1_PARTS:
                    metrics.log_scalar_sum(f"_{part}_{name}", total(f"{part}_lang:{name}"))
                metrics.log_derived(f"f1_{name}", _lang_f1(name))
            metrics.log_derived("avg_f1", _average_f1)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def _lang_accuracy(name):
    def derive(meters):
        return round(100.0 * float(meters[f"_ncorrect_{name}"].sum) / max(float(meters[f"_n_{name}"].sum), 1.0), 2)

    return derive


def _average_accuracy(meters):
    """The paper's checkpoint selection: mean dev accuracy over all languages."""
    names = [k[len("_n_"):] for k in meters if k.startswith("_n_") and float(meters[k].sum) > 0]
    if not names:
        return 0.0
    accs = [100.0 * float(meters[f"_ncorrect_{n}"].sum) / float(meters[f"_n_{n}"].sum) for n in names]
    return round(sum(accs) / len(accs), 2)


def _global_sums(counts, device):
    """counts summed over data-parallel ranks (as they are where there is one process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [float(c) for c in counts]
    t = torch.tensor(counts, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _f1_of(meters, name) -> float:
    return f1_from_counts(*(float(meters[f"_{part}_{name}"].sum) for part in F1_PARTS))


def _lang_f1(name):
    return lambda meters: round(_f1_of(meters, name), 2)


def _average_f1(meters):
    """The authors' selection for NER and QA: mean dev F1 over all languages."""
    names = [k[len("_f1_gold_"):] for k in meters if k.startswith("_f1_gold_")]
    return round(sum(_f1_of(meters, n) for n in names) / len(names), 2) if names else 0.0


def _cat_padded(a: torch.Tensor, b: torch.Tensor, pad: int) -> torch.Tensor:
    width = max(a.size(1), b.size(1))
    a = F.pad(a, (0, width - a.size(1)), value=pad)
    b = F.pad(b, (0, width - b.size(1)), value=pad)
    return torch.cat([a, b])


def _cat_views(view: dict, partner: Partner, pad: int) -> dict:
    out = {"src_tokens": _cat_padded(view["src_tokens"], partner["src_tokens"], pad)}
    if "word_of_token" in view:
        out["word_of_token"] = _cat_padded(view["word_of_token"], partner["word_of_token"], NO_WORD)
    return out
