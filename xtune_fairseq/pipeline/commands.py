"""The fairseq-train command of each stage (python -m TRAINER DATA ARGS...): the task, the model,
the optimizer, the data, xTune's views and regularizers, the runtime flags (--update-freq,
--max-tokens, --fp16 / --bf16, --num-workers, --cpu), the logging flags, and the schedule
(schedule.py) computed from them; the environment it runs in; views drawn ahead when asked."""

import math
import os
import re
import shlex
import sys
from typing import List

from xtune_fairseq.core.data.prepared import TASK_OF_KIND, data_kind
from xtune_fairseq.pipeline.schedule import count_batches, schedule, world_size
from xtune_fairseq import prepare  # its writers load on first use: the views writer imports fairseq

# fairseq 0.12's parser turns --bf16 into --tpu too (an XLA device): this entry point keeps it on CPU/GPU
BF16_TRAINER = "xtune_fairseq.cli.fairseq_train"
TRAINER = "fairseq_cli.train"


def train_command(a, stage, save_dir, n_rows):
    """The fairseq-train command of a stage; its schedule counts updates of --update-freq batches."""
    kind = data_kind(a.data)
    user_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "user_dir")
    cmd = [
        sys.executable, "-m", trainer_module(a), a.data, "--user-dir", user_dir,
        "--task", TASK_OF_KIND[kind], "--arch", "xlmr_xtune", "--pretrained-dir", a.model_dir,
        *_optimizer_flags(a), *_data_flags(a, kind),
        "--max-epoch", str(stage_epochs(a, stage)), "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--best-checkpoint-metric", a.best_metric, "--maximize-best-checkpoint-metric",
        "--log-format", "simple", "--log-interval", str(a.log_interval),
        *_xtune_flags(a, stage), *runtime_flags(a), *logging_flags(a, stage),
    ]
    extra = shlex.split(a.fairseq_args)
    n_batches = count_batches(cmd[3:] + extra) if a.max_tokens else math.ceil(n_rows / a.batch_size)
    total, warmup = schedule(n_batches, stage_epochs(a, stage), a.warmup_ratio, a.update_freq, world_size(a))
    return cmd + ["--total-num-update", str(total), "--warmup-updates", str(warmup)] + extra


def _optimizer_flags(a):
    return ["--criterion", "xtune_consistency", "--kl-reduction", a.kl_reduction, "--seed", str(a.seed),
            "--optimizer", "adam", "--adam-betas", a.adam_betas, "--adam-eps", str(a.adam_eps),
            "--weight-decay", str(a.weight_decay), "--clip-norm", str(a.clip_norm),
            "--lr-scheduler", "polynomial_decay", "--lr", str(a.lr), "--pooler-dropout", str(a.pooler_dropout)]


def _data_flags(a, kind):
    out = ["--max-positions", str(a.max_positions), "--batch-size", str(a.batch_size),
           "--required-batch-size-multiple", "1"]
    if a.sort_by_length:
        out.append("--sort-by-length")
    if kind == "tagging":
        out += ["--word-pooling", a.word_pooling]
    if kind == "qa":
        out += ["--doc-stride", str(a.doc_stride), "--max-query-length", str(a.max_query_length)]
    return out


def _xtune_flags(a, stage):
    """Views, R1 and R2 of a stage: A* in stage 1; A, A' and the stage-1 teacher in stage 2."""
    out = ["--r2-rows", a.r2_rows, "--subword-ratio", str(a.subword_ratio),
           "--code-switch-ratio", str(a.code_switch_ratio), "--noise-std", str(a.noise_std)]
    if a.code_switch_dicts:
        out += ["--code-switch-dicts", a.code_switch_dicts]
    if stage == 1:
        return out + ["--r1-augmentation", a.a_star, "--r1-lambda", str(a.lambda1 if a.a_star != "none" else 0.0)]
    out += ["--data-augmentation", a.a, "--augmented-ratio", str(a.augmented_ratio),
            "--r1-augmentation", a.a_prime, "--r1-lambda", str(a.lambda1 if a.a_prime != "none" else 0.0),
            "--r2-lambda", str(a.lambda2),
            "--teacher-path", os.path.join(a.out, "stage1", f"checkpoint_{a.teacher}.pt")]
    return out + ["--r2-hard-labels"] * a.r2_hard_labels


def stage_epochs(a, stage: int) -> int:
    return a.stage1_epochs if stage == 1 and a.stage1_epochs else a.epochs


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
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{os.path.basename(os.path.abspath(a.out))}-stage{stage}")
    epochs = min(a.binarized_views_epochs, int(cmd[cmd.index("--max-epoch") + 1]))
    print(f"[xtune] stage {stage}: drawing {epochs} epoch(s) of views into "
          f"{prepare.write_binarized_views(a.data, name, epochs, cmd[4:])}", flush=True)
    return cmd + ["--binarized-views", name]


def trainer_module(a) -> str:
    return BF16_TRAINER if a.bf16 else TRAINER
