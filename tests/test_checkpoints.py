"""Checkpoint loading through the allow-list: real checkpoints load, a pickle payload never runs."""

import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from xtune_fairseq.fairseq_wiring.checkpoints import load_fairseq_checkpoint, safe_load
from xtune_fairseq.core.errors import InputError


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file when unpickled


def malicious_checkpoint(tmp_path):
    marker = str(tmp_path / "payload-ran")
    path = str(tmp_path / "evil.pt")
    torch.save({"model": {"w": torch.zeros(1)}, "extra": Payload(marker)}, path, pickle_protocol=2)
    return path, marker


def test_payload_refused_and_never_run(tmp_path):
    path, marker = malicious_checkpoint(tmp_path)
    with pytest.raises(InputError, match="refused to load"):
        safe_load(path)
    with pytest.raises(InputError, match="refused to load"):
        load_fairseq_checkpoint(path)
    assert not os.path.exists(marker)


def test_fairseq_own_loader_refuses_it_too(tmp_path):
    from fairseq import checkpoint_utils

    from xtune_fairseq.fairseq_wiring.install import install

    install()  # what --user-dir user_dir does: the allow-list, fairseq's reader checked

    path, marker = malicious_checkpoint(tmp_path)
    with pytest.raises(InputError, match=r"refused to load: .*unsupported global: io\.open"):  # one line, no traceback
        checkpoint_utils.load_checkpoint_to_cpu(path)
    assert not os.path.exists(marker)


def test_real_checkpoints_load(tiny):
    state = load_fairseq_checkpoint(os.path.join(tiny["model"], "model.pt"))
    assert "encoder.sentence_encoder.embed_tokens.weight" in state["model"]


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="bad.pt"):
        safe_load(str(bad))


def test_fairseq_checkpoint_copies_are_atomic(tmp_path, monkeypatch):
    import shutil

    from fairseq.file_io import PathManager

    from xtune_fairseq.fairseq_wiring.install import install

    install()  # what --user-dir user_dir does: the allow-list, fairseq's reader checked

    src, dst = tmp_path / "checkpoint_best.pt", tmp_path / "checkpoint_last.pt"
    src.write_bytes(b"new" * 1000)
    dst.write_bytes(b"old")
    assert PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == b"new" * 1000

    dst.write_bytes(b"old")
    real_copy = shutil.copyfile

    def killed_midway(a, b, *args, **kw):
        with open(b, "wb") as f:
            f.write(b"ne")  # a partial write, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfile", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        PathManager.copy(str(src), str(dst), overwrite=True)
    monkeypatch.setattr(shutil, "copyfile", real_copy)
    assert dst.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_best.pt", "checkpoint_last.pt"]


def test_importing_the_registrations_changes_nothing_and_user_dir_installs_the_checks():
    """`import xtune_fairseq.fairseq_wiring.register` only registers (fairseq's reader and Python's
    excepthook stay theirs); loading `--user-dir user_dir` is what installs the checked reader, the
    atomic copies and the one-line errors (fairseq_wiring/install.py)."""
    code = (
        "import sys\n"
        "from fairseq import checkpoint_utils\n"
        "from fairseq.file_io import PathManager\n"
        "hook, read, copy = sys.excepthook, checkpoint_utils.load_checkpoint_to_cpu, PathManager.copy\n"
        "import xtune_fairseq.fairseq_wiring.register\n"
        "from fairseq.tasks import TASK_REGISTRY\n"
        "assert 'xtune_classification' in TASK_REGISTRY\n"
        "assert (sys.excepthook, checkpoint_utils.load_checkpoint_to_cpu, PathManager.copy) == (hook, read, copy)\n"
        "import user_dir\n"
        "assert sys.excepthook is not hook and checkpoint_utils.load_checkpoint_to_cpu is not read\n"
        "assert PathManager.copy is not copy\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
