"""A run killed with SIGKILL and restarted with the same command ends with the same
parameters as an uninterrupted run of the same seed (augmented views included)."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import fairseq_train, train_args
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load

FLAGS = ["--data-augmentation", "cs", "--r1-augmentation", "ss", "--subword-alpha", "0.05", "--r1-lambda", "5",
         "--max-epoch", "4", "--disable-validation"]  # epoch-end saves


@pytest.fixture(scope="module")
def teacher(tiny, tmp_path_factory):
    save = tmp_path_factory.mktemp("teacher")
    fairseq_train(train_args(tiny, save, "--max-update", "3", "--disable-validation"))
    return str(save / "checkpoint_last.pt")


@pytest.mark.parametrize("stage", [1, 2])
def test_sigkill_then_same_command_matches_uninterrupted(tiny, tmp_path, teacher, stage):
    flags = FLAGS + ["--code-switch-dicts", tiny["dicts"]]
    if stage == 1:  # task loss + R1 on D
        flags = [f for f in flags if f not in ("--data-augmentation", "cs")]
    else:  # D + A(D), R1 and R2 against a frozen teacher
        flags += ["--r2-lambda", "1", "--teacher-path", teacher]
    fairseq_train(train_args(tiny, tmp_path / "straight", *flags))

    argv = [sys.executable, "-m", "fairseq_cli.train", *map(str, train_args(tiny, tmp_path / "killed", *flags))]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    last = tmp_path / "killed" / "checkpoint_last.pt"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.exists(), "the run ended before its first checkpoint"
    killed_at = safe_load(str(last))["optimizer_history"][-1]["num_updates"]

    _, out = fairseq_train(train_args(tiny, tmp_path / "killed", *flags))
    assert f"@ {killed_at} updates" in out  # it resumed rather than restarted
    a = safe_load(str(tmp_path / "straight" / "checkpoint_last.pt"))
    b = safe_load(str(last))
    assert a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"] > killed_at
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_killed_preprocessing_leaves_nothing_loadable(tiny, tmp_path):
    dest = tmp_path / "bin"
    argv = [sys.executable, "-m", "xtune_fairseq.cli.preprocess", "--model-dir", tiny["model"], "--train",
            tiny["train"], "--valid", tiny["valid"], "--test", tiny["test"], "--dest", str(dest)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not any(p.name.startswith(".tmp-xtune-data-") for p in tmp_path.iterdir()) and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not dest.exists()  # only a temporary sibling, never the destination
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert (dest / "xtune.json").is_file() and (dest / "input0" / "test.bin").is_file()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # the killed run's temporary folder too
