"""The learning-rate schedule of a stage: polynomial decay needs the number of updates, and an update
is --update-freq batches on each of the data-parallel processes, not one batch of --batch-size rows.

The arithmetic is pure; the training rows are counted from the data (QA: the windows of every
question), and the batches under --max-tokens by fairseq's own batching (the count depends on the
rows' lengths and order)."""

import math
import os
import shlex
from typing import Sequence, Tuple

from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
from xtune_fairseq.core.data.prepared import INFO, data_kind, read_data_info, read_qa_meta
from xtune_fairseq.core.qa.windows import split_unspaced_of


def count_lines(path):
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def count_rows(a, train_meta) -> int:
    """Training rows of stage 1: examples, or for QA the windows of every question."""
    if data_kind(a.data) != "qa":
        return count_lines(train_meta)
    from xtune_fairseq.core.qa.views import QAViewMaker, count_windows  # imports torch: only for QA data

    sampler = SubwordSampler(os.path.join(a.data, "sentencepiece.bpe.model"))
    split = split_unspaced_of(read_data_info(a.data, required=()), os.path.join(a.data, INFO))
    maker = QAViewMaker("none", sampler, a.max_positions, a.doc_stride, a.max_query_length, split_unspaced=split)
    return count_windows(read_qa_meta(train_meta), maker)


def updates_per_epoch(n_batches: int, update_freq: int = 1, world_size: int = 1) -> int:
    """fairseq gives each of world_size processes ceil(n / world_size) batches (a short shard is
    padded with a dummy batch) and groups each process's batches update_freq at a time."""
    if n_batches < 0 or update_freq < 1 or world_size < 1:
        raise ValueError(f"n_batches {n_batches}, update_freq {update_freq}, world_size {world_size}")
    return math.ceil(math.ceil(n_batches / world_size) / update_freq)


def schedule(n_batches: int, epochs: int, warmup_ratio: float, update_freq: int = 1,
             world_size: int = 1) -> Tuple[int, int]:
    """(total updates, warm-up updates) of a stage: what --total-num-update and --warmup-updates say."""
    total = updates_per_epoch(n_batches, update_freq, world_size) * epochs
    return total, int(warmup_ratio * total)


def flag_value(args: Sequence[str], flag: str):
    """The value of `--flag V` or `--flag=V` in an argument list (the last one wins, as in argparse)."""
    value = None
    for i, token in enumerate(args):
        if token == flag and i + 1 < len(args):
            value = args[i + 1]
        elif token.startswith(flag + "="):
            value = token.split("=", 1)[1]
    return value


def world_size(a) -> int:
    """Processes fairseq-train trains with: --distributed-world-size if given, else every visible GPU
    (fairseq's default), else 1."""
    given = flag_value(shlex.split(a.fairseq_args), "--distributed-world-size")
    if given is not None:
        return max(int(given), 1)
    if a.cpu:
        return 1
    import torch  # only to count the GPUs: --help and the flag checks start without it

    return max(torch.cuda.device_count(), 1)


def count_batches(train_argv: Sequence[str]) -> int:
    """Training batches of one epoch as fairseq-train makes them from these arguments (fixed across
    epochs: the order is seeded once and the rows' sizes do not change)."""
    # fairseq only under --max-tokens: it takes seconds to import
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    argv = list(train_argv) + ["--total-num-update", "1"]  # not known yet; polynomial_decay needs a value
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset(cfg.dataset.train_subset)
    itr = task.get_batch_iterator(
        dataset=task.dataset(cfg.dataset.train_subset), max_tokens=cfg.dataset.max_tokens,
        max_sentences=cfg.dataset.batch_size,
        max_positions=utils.resolve_max_positions(task.max_positions(), cfg.dataset.max_tokens),
        ignore_invalid_inputs=True, required_batch_size_multiple=cfg.dataset.required_batch_size_multiple,
        seed=cfg.common.seed, num_workers=0, epoch=1, disable_iterator_cache=True,
    )
    return len(itr)
