"""torchrun on CPU: fairseq reads torchrun's RANK / WORLD_SIZE but then picks the device as
`rank % torch.cuda.device_count()`, a division by zero without GPUs. This keeps its logic and
uses device 0 when there is no GPU; with GPUs nothing changes."""

import torch
import os


def install_cpu_torchrun() -> None:
    from fairseq.distributed import utils  # late: fairseq: start-up time (about 3 s)

    original = utils._infer_torch_distributed_launch_init
    if getattr(original, "_xtune", False):
        return

    def infer(cfg):
        if torch.cuda.device_count() > 0:
            return original(cfg)

        cfg.distributed_init_method = "env://"
        cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
        cfg.distributed_rank = int(os.environ["RANK"])
        cfg.device_id = 0
        cfg.distributed_no_spawn = True  # torchrun made the processes

    infer._xtune = True
    utils._infer_torch_distributed_launch_init = infer
