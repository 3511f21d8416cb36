"""xtune-pipeline's runtime flags (--update-freq, --max-tokens, --fp16 / --bf16, --num-workers) and the
learning-rate schedule they change: polynomial decay needs the number of updates, and an update is
--update-freq batches on each of the data-parallel processes, not one batch of --batch-size rows.

The schedule arithmetic and the --fairseq-args check are pure; counting batches under --max-tokens
asks fairseq's own batching (the count depends on the rows' lengths and order)."""

import argparse
import dataclasses
import math
import os
import re
import shlex
from typing import List, Sequence, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir, open_output_dir
from xtune_fairseq.core.flag_ranges import check_betas

# fairseq 0.12's parser turns --bf16 into --tpu too (an XLA device): this entry point keeps it on CPU/GPU
BF16_TRAINER = "xtune_fairseq.cli.fairseq_train"
TRAINER = "fairseq_cli.train"

# fairseq flags a first-class pipeline flag (or the schedule) sets: given again in --fairseq-args
# they would win over it (argparse keeps the last) and the computed schedule would no longer fit
OWNED = {
    "--update-freq": "--update-freq", "--max-tokens": "--max-tokens", "--batch-size": "--batch-size",
    "--max-sentences": "--batch-size", "--fp16": "--fp16", "--bf16": "--bf16",
    "--memory-efficient-fp16": "--fp16", "--memory-efficient-bf16": "--bf16", "--num-workers": "--num-workers",
    "--max-epoch": "--epochs / --stage1-epochs", "--total-num-update": "--epochs (computed from the data)",
    "--warmup-updates": "--warmup-ratio",
}


def add_runtime_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("runtime (passed to fairseq-train in both stages)")
    g.add_argument("--update-freq", type=int, default=1,
                   help="batches accumulated per update (the authors' XLM-R large: --batch-size 16 --update-freq 2)")
    g.add_argument("--max-tokens", type=int,
                   help="also cap a batch at this many tokens (rows x longest row); the update count then "
                   "follows fairseq's own batching of the training rows")
    precision = g.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="mixed precision float16 (CUDA only); KL in float32")
    precision.add_argument("--bf16", action="store_true", help="bfloat16 weights and activations, float32 master "
                           "weights; KL in float32")
    g.add_argument("--num-workers", type=int, default=0, help="fairseq data-loader processes (0: the main one)")
    g.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU exists")
    g.add_argument("--binarized-views-epochs", type=int, default=0,
                   help="draw each stage's views of its first N epochs ahead and binarize them beside the data "
                   "(xtune-preprocess views; DATA/views/OUT-stageK), so training reads them instead of sampling "
                   "and tokenizing in its loop; 0: draw online (classification and tagging)")
    g.add_argument("--wandb-project", help="log both stages to this Weights & Biases project (fairseq's "
                   "--wandb-project; runs named OUT-stage1, OUT-stage2; WANDB_MODE=offline keeps them local)")
    g.add_argument("--tensorboard-logdir", help="TensorBoard event files, one folder per stage: DIR/stage1, DIR/stage2")


def runtime_flags(a) -> List[str]:
    """The fairseq-train flags of the runtime settings (only those that differ from fairseq's defaults,
    so that a default run's command parses to the same configuration as before these flags existed)."""
    out = ["--num-workers", str(a.num_workers)]
    if a.update_freq != 1:
        out += ["--update-freq", str(a.update_freq)]
    if a.max_tokens:
        out += ["--max-tokens", str(a.max_tokens)]
    out += ["--fp16"] * a.fp16 + ["--bf16"] * a.bf16 + ["--cpu"] * a.cpu
    return out


def logging_flags(a, stage: int) -> List[str]:
    out = ["--wandb-project", a.wandb_project] if a.wandb_project else []
    if a.tensorboard_logdir:
        out += ["--tensorboard-logdir", os.path.join(a.tensorboard_logdir, f"stage{stage}")]
    return out


def logging_env(a, stage: int) -> dict:
    """fairseq names a wandb run after its save dir ("stage1"): name it after the pipeline's output too."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.setdefault("WANDB_NAME", f"{os.path.basename(os.path.abspath(a.out))}-stage{stage}")
    return env


def with_binarized_views(a, stage: int, cmd: List[str]) -> List[str]:
    """The stage's command reading views drawn ahead (identical to the online ones: same code, same seed)."""
    if not a.binarized_views_epochs:
        return cmd
    from xtune_fairseq.cli.preprocess_views import write_binarized_views

    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{os.path.basename(os.path.abspath(a.out))}-stage{stage}")
    epochs = min(a.binarized_views_epochs, int(cmd[cmd.index("--max-epoch") + 1]))
    print(f"[xtune] stage {stage}: drawing {epochs} epoch(s) of views into "
          f"{write_binarized_views(a.data, name, epochs, cmd[4:])}", flush=True)
    return cmd + ["--binarized-views", name]


def trainer_module(a) -> str:
    return BF16_TRAINER if a.bf16 else TRAINER


def check_runtime_args(a) -> None:
    """What parse can refuse without torch: a token cap below the longest row, flags owned twice, --stages,
    --adam-betas (fairseq eval()s it: 'junk' was a NameError traceback in stage 1), an --out that is a file."""
    check_betas(a.adam_betas)
    parse_stages(a.stages)
    if a.eval_stages:  # unset or empty: the stages that ran
        parse_stages(a.eval_stages, "--eval-stages")
    if os.path.lexists(a.out) and not os.path.isdir(a.out):
        raise InputError(f"--out {a.out}: is a file, not a folder; --out names the run folder (stage1/, stage2/, "
                         "results.json)")
    if a.max_tokens is not None and a.max_tokens < a.max_positions:
        raise InputError(f"--max-tokens {a.max_tokens} is below --max-positions {a.max_positions}: a batch must hold "
                         "the longest row (fairseq-train would silently skip longer training rows)")
    check_fairseq_args(a.fairseq_args)


def parse_stages(value: str, flag: str = "--stages") -> List[int]:
    """'1,2' -> [1, 2]: the stages a flag names, each 1 or 2."""
    stages = value.split(",")
    if not all(s.strip() in ("1", "2") for s in stages):
        raise InputError(f"{flag} {value}: expected 1, 2 or 1,2 (the stages, comma-separated)")
    return [int(s) for s in stages]


def check_fairseq_args(fairseq_args: str) -> None:
    try:
        tokens = shlex.split(fairseq_args)
    except ValueError as e:  # an unclosed quote: shlex's 'No closing quotation'
        raise InputError(f"--fairseq-args {fairseq_args!r}: {e}; expected fairseq-train flags as a shell would "
                         "split them") from None
    for token in tokens:
        name = token.split("=", 1)[0]
        if name in OWNED:
            raise InputError(f"--fairseq-args {fairseq_args!r}: {name} is set by xtune-pipeline; use its {OWNED[name]} "
                             "(the learning-rate schedule is computed from it)")


def check_precision(a) -> None:
    """--fp16 on the CPU stops deep in fairseq (its FP16Optimizer asks torch.cuda for a device:
    'Torch not compiled with CUDA enabled'); refused here in one line. --bf16 runs anywhere."""
    if not a.fp16:
        return
    if a.cpu:
        raise InputError("--fp16 with --cpu: fairseq's float16 training runs on CUDA only (use --bf16 or neither)")
    import torch

    if not torch.cuda.is_available():
        raise InputError("--fp16 needs a CUDA GPU and this machine has none (fairseq's float16 training runs on "
                         "CUDA only; use --bf16 or neither)")


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
    import torch

    return max(torch.cuda.device_count(), 1)


def count_batches(train_argv: Sequence[str]) -> int:
    """Training batches of one epoch as fairseq-train makes them from these arguments (fixed across
    epochs: the order is seeded once and the rows' sizes do not change)."""
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

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


# --out: what a run writes at its top (fairseq's checkpoints and logs go in stage1/, stage2/); a folder
# without the marker is a run folder when a stage's command.txt is there (older versions wrote none)
RUN_DIR = OutputDir("a run folder written by xtune-pipeline", "xtune-run.json",
                    frozenset({"stage1", "stage2", "results*.json", "results*.md", "xtune-run.json"}),
                    ".tmp-xtune-run-", legacy=("stage1/command.txt", "stage2/command.txt"))


def open_run_folder(a) -> None:
    """--out checked and made (files.open_output_dir): missing, empty, or a run folder with nothing of
    the user's at its top, unless --force; never --data or --model-dir or inside them. A
    --tensorboard-logdir inside it is the run's too."""
    logs = getattr(a, "tensorboard_logdir", None)
    top = os.path.relpath(os.path.abspath(logs), os.path.abspath(a.out)).split(os.sep)[0] if logs else os.pardir
    kind = RUN_DIR if top in (os.curdir, os.pardir) else dataclasses.replace(RUN_DIR, names=RUN_DIR.names | {top})
    open_output_dir(a.out, "--out", kind, [a.data, a.model_dir], getattr(a, "force", False))
