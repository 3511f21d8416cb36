"""The pipeline's settings: PipelineConfig, one typed field per xtune-pipeline flag (the flag is the
field's name with dashes: lambda1 is --lambda1, a_star --a-star; where the other xtune-* commands name
that meaning otherwise, the flag is theirs and the older spelling an alias: eval_split is --split, also
--eval-split; teacher is --teacher-checkpoint, also --teacher), with the flag's default, help and
choices; the recipes' presets (core/recipes.py) under explicit settings; the defaults that depend
on the data. xtune-pipeline's parser is made from these fields (parse_flags), nothing else."""

import argparse
import dataclasses
from functools import partial
from typing import Optional

from xtune_fairseq.core.augment.registry import AUGMENTATIONS
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flags import add_dataclass_arguments, option
from xtune_fairseq.core.metrics.entities import is_bio, tagging_metric
from xtune_fairseq.core.recipes import RECIPES
from xtune_fairseq.pipeline.checks import check_config

_xtune = partial(option, group="xTune: augmentations, R1 and R2")
_optimizer = partial(option, group="optimizer and schedule")
_data = partial(option, group="data and batches")
_runtime = partial(option, group="runtime (passed to fairseq-train in both stages)")
_evaluation = partial(option, group="checkpoint selection, evaluation and logging")


@dataclasses.dataclass
class PipelineConfig:
    """Everything a run of the pipeline (run.run_pipeline) is told. PipelineConfig(model_dir, data, out,
    ...) takes the fields as given; PipelineConfig.from_recipe(name, ...) starts from a recipe's
    presets, as xtune-pipeline --recipe does (the field `recipe` itself only records the name)."""

    model_dir: str = option(help="pretrained XLM-R-format directory")
    data: str = option(help="xtune-preprocess output (train, valid and test splits)")
    out: str = option(help="run folder: stage1/, stage2/, results.json, results.md")
    force: bool = option(False, help="write into an --out folder holding files it did not write")
    recipe: str = option("xnli", choices=sorted(RECIPES),
                         help="preset from the paper's Tables 7-8 and the authors' scripts; it sets the defaults of "
                         "any flag below, an explicit flag still wins")
    stages: str = option("1,2", help="'1' for stage 1 only (plain fine-tuning with --recipe baseline)")
    # xTune: augmentations, R1 and R2
    a_star: str = _xtune("none", choices=list(AUGMENTATIONS), help="A*: R1 view in stage 1")
    a: str = _xtune("none", choices=list(AUGMENTATIONS), help="A: data augmentation of stage 2")
    a_prime: str = _xtune("none", choices=list(AUGMENTATIONS), help="A': R1 view in stage 2")
    lambda1: float = _xtune(0.0, help="weight of R1")
    lambda2: float = _xtune(0.0, help="weight of R2")
    augmented_ratio: float = _xtune(1.0, help="augmented copies of each training example in stage 2's D + A(D)")
    subword_ratio: float = _xtune(0.3, help="probability that a word is resampled")
    code_switch_ratio: float = _xtune(0.3, help="probability that a word is switched (code-switch)")
    code_switch_dicts: str = _xtune("", help="comma-separated en-XX.txt dictionaries")
    noise_std: float = _xtune(1e-5, help="scale of the Gaussian-noise augmentation on word embeddings")
    r2_hard_labels: bool = _xtune(False, negatable=True,
                                  help="R2 as cross-entropy on the teacher's argmax (the NER recipes')")
    teacher: str = _xtune("best", choices=["best", "last"], flag="--teacher-checkpoint", aliases=("--teacher",),
                          help="stage-1 checkpoint used as R2's teacher (the authors' QA: the last); "
                          "fairseq-train's --teacher-path is then stage1/checkpoint_best.pt or _last.pt")
    r2_rows: str = _xtune("augmented", choices=["augmented", "all"],
                          help="R2 on the augmented copies (the authors' code) or on all of D + A(D) (the paper's sum)")
    kl_reduction: str = _xtune("authors_mean", choices=["authors_mean", "batchmean"],
                               help="authors_mean: each term a mean over its own items as in the authors' code; "
                               "batchmean: the paper's sums over examples")
    # optimizer and schedule
    lr: float = _optimizer(7e-6, help="peak learning rate")
    epochs: int = _optimizer(10, help="epochs per stage")
    stage1_epochs: Optional[int] = _optimizer(
        None, help="epochs of stage 1 when they should differ, e.g. twice --epochs so that stage 1 on D "
        "makes as many updates as stage 2 on D + A(D)")
    warmup_ratio: Optional[float] = _optimizer(
        None, help="share of the updates with a linear warm-up (default: 0 for classification, as the "
        "authors' scripts run it; 0.1 for tagging and QA)")
    adam_betas: str = _optimizer("(0.9,0.999)", help="AdamW betas (the authors': HF AdamW defaults)")
    adam_eps: float = _optimizer(1e-8, help="AdamW epsilon (the authors': 1e-8)")
    weight_decay: float = _optimizer(0.0, help="AdamW weight decay (the authors': 0)")
    clip_norm: float = _optimizer(1.0, help="gradient clipping (the authors' max_grad_norm)")
    pooler_dropout: float = _optimizer(0.1, help="dropout of the sentence head (HF's RobertaClassificationHead: 0.1)")
    seed: int = _optimizer(1, help="random seed of both stages (initialisation, data order, views, dropout)")
    # data and batches
    batch_size: int = _data(32, help="rows per batch (per GPU, per accumulated step)")
    max_positions: int = _data(256, help="tokens per input")
    word_pooling: str = _data("first", choices=["first", "average", "sum"],
                              help="tagging: word vector from its first subword, their average (the paper's POS) or "
                              "their sum (the authors' POS code)")
    doc_stride: int = _data(128, help="QA: context pieces between the starts of two windows")
    max_query_length: int = _data(64, help="QA: question pieces kept")
    sort_by_length: bool = _data(False, help="batch rows of similar length (faster on CPU)")
    # runtime (passed to fairseq-train in both stages)
    update_freq: int = _runtime(
        1, help="batches accumulated per update (the authors' XLM-R large: --batch-size 16 --update-freq 2)")
    max_tokens: Optional[int] = _runtime(
        None, help="also cap a batch at this many tokens (rows x longest row); the update count then "
        "follows fairseq's own batching of the training rows")
    fp16: bool = _runtime(False, exclusive="precision", help="mixed precision float16 (CUDA only); KL in float32")
    bf16: bool = _runtime(False, exclusive="precision",
                          help="bfloat16 weights and activations, float32 master weights; KL in float32")
    num_workers: int = _runtime(0, help="fairseq data-loader processes (0: the main one)")
    cpu: bool = _runtime(False, help="train on the CPU even where a GPU exists")
    binarized_views_epochs: int = _runtime(
        0, help="draw each stage's views of its first N epochs ahead and binarize them beside the data "
        "(xtune-preprocess views; DATA/views/OUT-stageK), so training reads them instead of sampling "
        "and tokenizing in its loop; 0: draw online (classification and tagging)")
    wandb_project: Optional[str] = _runtime(
        None, help="log both stages to this Weights & Biases project (fairseq's "
        "--wandb-project; runs named OUT-stage1, OUT-stage2; WANDB_MODE=offline keeps them local)")
    tensorboard_logdir: Optional[str] = _runtime(
        None, help="TensorBoard event files, one folder per stage: DIR/stage1, DIR/stage2")
    # checkpoint selection, evaluation and logging
    eval_stages: Optional[str] = _evaluation(None, help="stages to evaluate (default: all that ran)")
    eval_split: str = _evaluation(
        "test", flag="--split", aliases=("--eval-split",),
        help="split the best checkpoints are scored on: results.json for test, else results-SPLIT.json "
        "(finished stages are not trained again, so a finished run can be scored on another split)")
    metric: str = _evaluation(
        "auto", choices=["auto", "accuracy", "f1", "squad", "mlqa"],
        help="tagging: token accuracy or F1 (auto: F1 for BIO tag sets, else accuracy; f1 on other tags, "
        "e.g. POS: seqeval's F1 over the raw tags, XTREME's udpos score); QA: F1/EM with SQuAD v1.1 "
        "or MLQA normalisation")
    best_metric: str = _evaluation(
        "auto", choices=["auto", "avg_acc", "avg_f1"],
        help="dev score that picks checkpoint_best.pt (and the teacher): auto = avg_f1 for NER (BIO "
        "tags; not with --metric accuracy) and QA, avg_acc otherwise (dev F1 is logged for BIO tags and QA only)")
    log_interval: int = _evaluation(50, help="updates between fairseq-train's log lines")
    fairseq_args: str = option("", help="extra fairseq-train flags, quoted")

    @classmethod
    def from_recipe(cls, recipe: str = "xnli", **settings) -> "PipelineConfig":
        """The recipe's presets, then `settings` over them (model_dir, data and out among them)."""
        return cls(**{**recipe_presets(recipe), **settings, "recipe": recipe})


def recipe_presets(name: str) -> dict:
    """The settings recipe `name` presets; an InputError if it sets one PipelineConfig has not."""
    if name not in RECIPES:
        raise InputError(f"recipe {name!r}: expected one of {sorted(RECIPES)}")
    recipe = RECIPES[name]
    unknown = sorted(set(recipe) - {field.name for field in dataclasses.fields(PipelineConfig)})
    if unknown:  # a typo in a recipe would otherwise be silently ignored
        raise InputError(f"recipe sets unknown pipeline settings {unknown}")
    return dict(recipe)


def build_parser(description: Optional[str] = None) -> argparse.ArgumentParser:
    """xtune-pipeline's flags: one per PipelineConfig field."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_dataclass_arguments(p, PipelineConfig)


def parse_flags(argv=None, parser: Optional[argparse.ArgumentParser] = None) -> PipelineConfig:
    """xtune-pipeline's flags (default: sys.argv) as a checked PipelineConfig: the --recipe's presets
    are the defaults, an explicit flag wins over them."""
    p = parser or build_parser()
    recipe = recipe_presets(p.parse_args(argv).recipe)
    p.set_defaults(**recipe)  # explicit flags still win over the recipe
    return check_config(PipelineConfig(**vars(p.parse_args(argv))))


def resolve_kind_defaults(a, kind: str, labels) -> None:
    """Defaults that depend on the data: warm-up (the authors' classification runs have none) and
    the checkpoint-selection score (F1 where the authors select by F1; the training log has dev F1
    for QA and BIO tag sets only, so POS with --metric f1 selects by dev token accuracy)."""
    if a.warmup_ratio is None:
        a.warmup_ratio = 0.0 if kind == "classification" else 0.1
    if a.best_metric == "auto":
        f1 = kind == "qa" or (kind == "tagging" and tagging_metric(a.metric, labels) == "f1" and is_bio(labels))
        a.best_metric = "avg_f1" if f1 else "avg_acc"
    if a.best_metric == "avg_f1" and kind != "qa" and not (kind == "tagging" and is_bio(labels)):
        raise InputError(f"--best-metric avg_f1: dev F1 is logged for QA and BIO tag sets (O, B-X, I-X) only, "
                         f"not for this {kind} data; use --best-metric avg_acc")
