"""Update times of fairseq-train's own update step (fairseq's Trainer: --fp16 / --bf16 exactly as
fairseq-train runs them, loss scaling and float32 master weights included), one configuration at a
time so that each one's peak device memory is its own, with the R1 / R2 terms of every update.

xtune-bench times its configurations with a bare float32 optimizer step on the CPU; half precision
needs fairseq's optimizer wrappers, hence the Trainer here. The configurations are bench's."""

import gc
import itertools
import math
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import NonFiniteLoss
import numpy as np

PRECISION_FLAGS = {"fp16": ["--fp16"], "bf16": ["--bf16"], "fp32": []}
Terms = List[Tuple[float, float]]  # (r1, r2) of each update


def training_cfg(argv: Sequence[str]):
    """(argparse namespace, omegaconf cfg) as fairseq-train parses argv."""
    from fairseq import options  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    args = options.parse_args_and_arch(options.get_training_parser(), list(argv))
    if getattr(args, "bf16", False) and "--tpu" not in argv:
        args.tpu = False  # fairseq's parser turns --bf16 into --tpu (an XLA device): see cli/fairseq_train.py
    return args, convert_namespace_to_omegaconf(args)


def training_task(argv):
    """fairseq-train's task, seeded as fairseq-train seeds it: every configuration starts from the same head."""
    from fairseq import tasks, utils  # late: fairseq: start-up time (about 3 s)

    args, cfg = training_cfg(argv)
    np.random.seed(cfg.common.seed)
    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    return args, cfg, task


def same_batches(task, batch_size: int, n: int) -> List[dict]:
    """n training batches of batch_size rows (rows of D_A with their R1 partners), cycled: every
    configuration is timed on these; each criterion uses what it needs of them."""
    ds = task.dataset("train")
    ds.set_epoch(1)
    epoch = list(task.get_batch_iterator(ds, max_sentences=batch_size, seed=1, num_workers=0,
                                         required_batch_size_multiple=1).next_epoch_itr(shuffle=True))
    full = [b for b in epoch if b["nsentences"] == batch_size] or epoch
    return list(itertools.islice(itertools.cycle(full), n))


def without_cache(batch: dict) -> dict:
    """The batch as a run without --teacher-cache gets it."""
    return {k: v for k, v in batch.items() if k not in ("teacher_logits", "teacher_cached")}


def record_terms(task, sink: Terms) -> None:
    """Keeps the raw R1 / R2 terms of every forward the trainer runs (fairseq's logged values are
    rounded and averaged; a NaN must not be)."""
    step = task.train_step

    def train_step(sample, model, criterion, *args, **kwargs):
        loss, size, log = step(sample, model, criterion, *args, **kwargs)
        if "r1_loss" in log:
            sink.append((float(log["r1_loss"]), float(log["r2_loss"])))
        return loss, size, log

    task.train_step = train_step


def build_trainer(argv):
    from fairseq.trainer import Trainer  # late: fairseq: start-up time (about 3 s)

    _, cfg, task = training_task(argv)
    model = task.build_model(cfg.model)
    return task, Trainer(cfg, task, model, task.build_criterion(cfg.criterion))


def time_config(argv, batches: Sequence[dict], cuda: bool, warmup: int, repeats: int, updates: int) -> Dict:
    """Median over `repeats` of the mean seconds per update (of `updates` updates each), after
    `warmup` updates; peak device memory from building the model to the last update (GiB)."""
    import torch  # late: torch: start-up time

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    task, trainer = build_trainer(argv)
    dtype = str(next(trainer.model.parameters()).dtype).replace("torch.", "")
    terms: Terms = []
    record_terms(task, terms)
    means, skipped, error = [], 0, None

    def update(sample):
        sync()
        start = time.perf_counter()
        out = trainer.train_step([sample])
        sync()
        return time.perf_counter() - start, out is None  # None: fp16 overflow, update skipped

    try:
        for sample in batches[:warmup]:
            update(sample)
        for k in range(repeats):
            done = [update(s) for s in batches[warmup + k * updates: warmup + (k + 1) * updates]]
            means.append(sum(s for s, _ in done) / len(done))
            skipped += sum(o for _, o in done)
    except FloatingPointError as e:  # NaN/inf loss (refused before the update) or gradients
        error = str(e).splitlines()[0][:120]
        if isinstance(e, NonFiniteLoss):
            terms.append((math.nan, math.nan))
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
    del trainer, task
    gc.collect()
    return {"s_per_update": statistics.median(means) if means else math.nan, "peak_gib": peak,
            "terms": terms, "skipped_updates": skipped, "error": error,
            "dtype": dtype}


def kl_finite(terms: Optional[Terms]) -> Optional[bool]:
    """Whether every recorded R1 / R2 term is finite; None where the configuration has none."""
    if not terms:
        return None
    return all(math.isfinite(v) for pair in terms for v in pair)


def kl_cell(terms: Optional[Terms]) -> str:
    ok = kl_finite(terms)
    if ok is None:
        return "-"
    if not ok:
        return "**NON-FINITE**"
    r1, r2 = (max(t[i] for t in terms) for i in (0, 1))
    return f"finite (max r1 {r1:.3g}, r2 {r2:.3g})"
