"""The allowed range of every numeric flag of the criterion, the tasks and the CLIs, checked once
where the flags arrive (criterion __init__, task setup_task, each CLI's arguments).

Without it a negative or NaN lambda silently switched its term off, a negative --augmented-ratio
added copies anyway, and an out-of-range ratio failed deep inside with a traceback. Pure: no
fairseq import; works on argparse namespaces, dataclasses and omegaconf configs alike."""

import ast
import logging
import math
from dataclasses import dataclass
from typing import Iterable, Optional

from xtune_fairseq.core.augment.registry import get_augmentation
from xtune_fairseq.core.errors import InputError

logger = logging.getLogger(__name__)
INF = math.inf


@dataclass(frozen=True)
class Range:
    low: float
    high: float = INF
    bounds: str = "[)"  # '[' / ']' include that end, '(' / ')' exclude it
    also: tuple = ()  # single values allowed besides the interval (e.g. -1 = "all")

    def __contains__(self, value) -> bool:
        if value in self.also:
            return True
        above = value >= self.low if self.bounds[0] == "[" else value > self.low
        below = value <= self.high if self.bounds[1] == "]" else value < self.high
        return above and below  # NaN fails both comparisons

    def __str__(self) -> str:
        interval = f"a number in {self.bounds[0]}{self.low}, {self.high}{self.bounds[1]}"
        return " or ".join([*map(str, self.also), interval])


PROBABILITY = Range(0, 1, "[]")
NON_NEGATIVE = Range(0)
POSITIVE_INT = Range(1)
SEED = Range(0, 2**32 - 1, "[]")  # what numpy's (and fairseq's data) seeding accepts
BETA = Range(0, 1, "[)")

RANGES = {
    # criterion xtune_consistency
    "r1_lambda": NON_NEGATIVE, "r2_lambda": NON_NEGATIVE,
    # tasks xtune_classification / _sequence_labeling / _span_extraction
    "augmented_ratio": NON_NEGATIVE, "subword_alpha": NON_NEGATIVE, "subword_nbest": Range(1, also=(-1,)),
    "subword_ratio": PROBABILITY, "code_switch_ratio": PROBABILITY, "noise_std": NON_NEGATIVE,
    "max_positions": Range(3),  # <s> one piece </s>
    "init_token": NON_NEGATIVE, "separator_token": NON_NEGATIVE, "num_classes": Range(1, also=(-1,)),
    "doc_stride": POSITIVE_INT, "max_query_length": POSITIVE_INT, "max_answer_length": POSITIVE_INT,
    "n_best_size": POSITIVE_INT,
    # xtune-pipeline
    "lambda1": NON_NEGATIVE, "lambda2": NON_NEGATIVE, "lr": Range(0, bounds="()"), "epochs": POSITIVE_INT,
    "stage1_epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "warmup_ratio": PROBABILITY,
    "adam_eps": Range(0, bounds="()"), "weight_decay": NON_NEGATIVE, "clip_norm": NON_NEGATIVE,
    "pooler_dropout": Range(0, 1, "[)"), "seed": SEED, "log_interval": POSITIVE_INT,
    "update_freq": POSITIVE_INT, "max_tokens": POSITIVE_INT, "num_workers": NON_NEGATIVE, "binarized_views_epochs": NON_NEGATIVE,
    # the other CLIs
    "workers": POSITIVE_INT, "per_lang": POSITIVE_INT, "layer": Range(-1), "bible": NON_NEGATIVE,
    "updates": POSITIVE_INT, "rounds": POSITIVE_INT, "warmup": NON_NEGATIVE, "vocab_size": Range(8),
    "layers": POSITIVE_INT, "dim": POSITIVE_INT, "heads": POSITIVE_INT, "ffn": POSITIVE_INT,
    "n_train": Range(1, 2000, "[]"),  # the demo's sentiment corpus: the rest of its English is dev and test
}


def check_ranges(cfg, names: Optional[Iterable[str]] = None):
    """Refuses the first flag of `names` (default: every flag in RANGES that cfg has) whose value is
    outside its range; None (unset) passes. Returns cfg, so that `return check_ranges(args)` reads."""
    for name in RANGES if names is None else names:
        value = getattr(cfg, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in RANGES[name]:
            raise InputError(f"{flag(name)} {value}: expected {RANGES[name]}")
    return cfg


def check_betas(value, name: str = "--adam-betas"):
    """Adam's betas as a literal: a tuple or list of two numbers in [0, 1), e.g. '(0.9,0.999)'. fairseq
    eval()s the string when it builds the optimizer: 'junk' ended in a NameError traceback, and any
    expression ran. Returns the two floats."""
    text = value if isinstance(value, str) else repr(value)
    try:
        betas = ast.literal_eval(value) if isinstance(value, str) else tuple(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        betas = None
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) and b in BETA for b in betas)):
        raise InputError(f"{name} {text}: expected a tuple of two numbers in [0, 1), e.g. (0.9,0.999)")
    return tuple(float(b) for b in betas)


def check_seeds(text: str, name: str = "--seeds"):
    """'1,2,3' -> [1, 2, 3]: comma-separated integers, each a seed numpy accepts."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise InputError(f"{name} {text}: expected comma-separated integer seeds, e.g. 1,2,3") from None
    for seed in seeds:
        if seed not in SEED:
            raise InputError(f"{name} {text}: seed {seed}: expected {SEED}")
    return seeds


def check_train_config(cfg) -> None:
    """The flags of a fairseq-train / fairseq-hydra-train configuration that fairseq uses before our
    task is set up (--seed seeds numpy first thing: 'Seed must be between 0 and 2**32 - 1' traceback)
    or eval()s (--adam-betas); cfg is the whole omegaconf configuration."""
    common, optimizer = cfg.get("common"), cfg.get("optimizer")
    if common is not None:
        check_ranges(common, ["seed"])
    if optimizer is not None and optimizer.get("adam_betas") is not None:
        check_betas(optimizer.adam_betas)


def warn_no_effect(cfg) -> None:
    """Legal settings that make a selected augmentation change nothing: likely a mistake, so a warning
    (an augmentation whose `strength_flag` is 0 makes views equal to the original)."""
    if get_augmentation(cfg.data_augmentation).makes_views and cfg.augmented_ratio == 0:
        logger.warning("--augmented-ratio %s adds no %s copies: stage 2 trains on D only",
                       cfg.augmented_ratio, cfg.data_augmentation)
    for name in ("data_augmentation", "r1_augmentation"):
        strength = get_augmentation(getattr(cfg, name)).strength_flag
        if strength and getattr(cfg, strength) == 0:
            logger.warning("%s %s with %s %s: its views equal the original sentences", flag(name),
                           getattr(cfg, name), flag(strength), getattr(cfg, strength))


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")
