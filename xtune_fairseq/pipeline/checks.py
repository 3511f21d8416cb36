"""The pipeline's settings checked before anything is trained, each refusal one line (InputError):
numeric ranges (flag_ranges.RANGES), --stages, --adam-betas, an --out that is a file, a token cap
below the longest row, fairseq-train flags in --fairseq-args that a setting of its own owns, --fp16
without CUDA."""

import os
import shlex
from typing import List

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_betas, check_ranges

# fairseq flags a first-class pipeline flag (or the schedule) sets: given again in --fairseq-args
# they would win over it (argparse keeps the last) and the computed schedule would no longer fit
OWNED = {
    "--update-freq": "--update-freq", "--max-tokens": "--max-tokens", "--batch-size": "--batch-size",
    "--max-sentences": "--batch-size", "--fp16": "--fp16", "--bf16": "--bf16",
    "--memory-efficient-fp16": "--fp16", "--memory-efficient-bf16": "--bf16", "--num-workers": "--num-workers",
    "--max-epoch": "--epochs / --stage1-epochs", "--total-num-update": "--epochs (computed from the data)",
    "--warmup-updates": "--warmup-ratio",
}


def check_config(a):
    """Every check that needs no torch: the numeric ranges (flag_ranges.RANGES), then check_runtime_args.
    Returns a."""
    check_ranges(a)
    check_runtime_args(a)
    return a


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
    import torch  # only for --fp16: the other checks, and --help, start without it

    if not torch.cuda.is_available():
        raise InputError("--fp16 needs a CUDA GPU and this machine has none (fairseq's float16 training runs on "
                         "CUDA only; use --bf16 or neither)")
