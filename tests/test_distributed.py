"""Data-parallel training on CPU (gloo), with fairseq's own distributed flags and with torchrun:
2 ranks with batch B end where 1 process with batch 2B ends, with R1 and an R2 teacher on every rank."""

import os
import socket
import subprocess
import sys

import torch

from conftest import USER_DIR, fairseq_train
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def args(tiny, save, batch, teacher, *extra):
    return [tiny["bin"], "--user-dir", USER_DIR, "--task", "xtune_classification", "--arch", "xlmr_xtune",
            "--pretrained-dir", tiny["model"], "--criterion", "xtune_consistency", "--optimizer", "adam",
            "--lr", "1e-3", "--batch-size", str(batch), "--required-batch-size-multiple", "1", "--max-update", "4",
            "--cpu", "--num-workers", "0", "--dropout", "0", "--attention-dropout", "0", "--pooler-dropout", "0", "--seed", "5",
            "--curriculum", "100",  # no batch shuffling: rank r takes batches r, r + 2, ...
            "--data-augmentation", "cs", "--r1-augmentation", "cs", "--code-switch-dicts", tiny["dicts"],
            "--r1-lambda", "5", "--r2-lambda", "1", "--teacher-path", teacher,
            "--save-dir", str(save), "--no-epoch-checkpoints", "--disable-validation", *extra]


def test_two_ranks_match_one_process_with_double_batch(tiny, tmp_path):
    teacher_dir = tmp_path / "teacher"
    fairseq_train([tiny["bin"], "--user-dir", USER_DIR, "--task", "xtune_classification", "--arch", "xlmr_xtune",
                   "--pretrained-dir", tiny["model"], "--criterion", "xtune_consistency", "--optimizer", "adam",
                   "--lr", "1e-3", "--batch-size", "16", "--max-update", "3", "--cpu", "--num-workers", "0",
                   "--save-dir", teacher_dir, "--disable-validation"])
    teacher = str(teacher_dir / "checkpoint_last.pt")
    fairseq_train(args(tiny, tmp_path / "single", 16, teacher))

    port = free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(
        [sys.executable, "-m", "fairseq_cli.train", *map(str, args(
            tiny, tmp_path / "ddp", 8, teacher, "--distributed-world-size", "2", "--distributed-rank", str(rank),
            "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp", "--distributed-no-spawn",
            "--device-id", "0", "--distributed-init-method", f"tcp://127.0.0.1:{port}"))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]

    # torchrun: ranks and rendezvous from the environment
    torchrun = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
         "-m", "fairseq_cli.train", *map(str, args(
             tiny, tmp_path / "torchrun", 8, teacher, "--distributed-world-size", "2",
             "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"))],
        env=env, capture_output=True, text=True, timeout=300)
    assert torchrun.returncode == 0, (torchrun.stdout + torchrun.stderr)[-3000:]

    single = safe_load(str(tmp_path / "single" / "checkpoint_last.pt"))["model"]
    pretrained = safe_load(os.path.join(tiny["model"], "model.pt"))["model"]
    moved = single["encoder.sentence_encoder.layers.0.fc1.weight"] - pretrained["encoder.sentence_encoder.layers.0.fc1.weight"]
    assert moved.abs().max() > 1e-4  # it trained
    for run in ("ddp", "torchrun"):
        ddp = safe_load(str(tmp_path / run / "checkpoint_last.pt"))["model"]
        assert single.keys() == ddp.keys()
        for k in single:
            assert torch.allclose(single[k], ddp[k], atol=2e-5), (run, k)
