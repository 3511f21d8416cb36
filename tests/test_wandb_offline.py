"""fairseq's --wandb-project with wandb in offline mode (no account, no network) records what the
xTune criterion logs: r1_loss, r2_loss and the per-language acc_XX, the values fairseq's own log
prints; --tensorboard-logdir in the same run records the same keys and values. One run folder per
training, latest-run pointing at it, and no traceback in wandb's logs (fairseq called wandb.init for
every progress bar: a second, empty offline-run folder; and never finished the run: a
HandleAbandonedError traceback in its debug.log; fairseq_wiring/wandb_runs.py)."""

import glob
import json
import math
import os
import re
import struct
import subprocess
import sys

import pytest

from conftest import train_args

wandb = pytest.importorskip("wandb")

BLOCK = 32768  # the .wandb file is a leveldb-style log of protobuf records in 32 KiB blocks


def wandb_records(path):
    """The protobuf Records of an offline run's run-ID.wandb file: a 7-byte header (':W&B', magic,
    version), then chunks of (crc32c, length, type) whose type says whether a record is whole
    (1) or its first (2), middle (3) or last (4) part; a block's tail shorter than a chunk header
    is padding."""
    from wandb.proto import wandb_internal_pb2

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", f"{path}: not a W&B transaction log"
    pos, parts, records = 7, b"", []
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0:  # zero padding up to the block's end
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(parts))
    return records


def assert_one_clean_run(wandb_dir):
    """One offline-run folder (fairseq's wandb.init per progress bar made one more, empty), latest-run
    pointing at it, and no traceback in any of wandb's logs (the run left unfinished at exit ended in
    HandleAbandonedError). Returns the run folder."""
    folders = glob.glob(os.path.join(wandb_dir, "wandb", "offline-run-*"))
    assert len(folders) == 1, folders
    assert os.path.realpath(os.path.join(wandb_dir, "wandb", "latest-run")) == os.path.realpath(folders[0])
    logs = glob.glob(os.path.join(wandb_dir, "wandb", "**", "*.log"), recursive=True)
    assert any(path.endswith(os.path.join("logs", "debug.log")) for path in logs), logs
    for path in logs:
        text = open(path, encoding="utf-8", errors="replace").read()
        assert "Traceback" not in text and "HandleAbandonedError" not in text, f"{path}:\n{text[-3000:]}"
    return folders[0]


def wandb_history(wandb_dir):
    """{step: {key: value}} of the one run under wandb_dir (what wandb.log(..., step=) recorded)."""
    runs = glob.glob(os.path.join(assert_one_clean_run(wandb_dir), "run-*.wandb"))
    assert len(runs) == 1, runs
    history = {}
    for record in wandb_records(runs[0]):
        if record.WhichOneof("record_type") == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            history.setdefault(row.pop("_step"), {}).update({k: v for k, v in row.items() if not k.startswith("_")})
    return history


def tensorboard_history(logdir):
    """{step: {tag/key: value}} of the scalars: fairseq writes one folder per progress-bar tag."""
    from tensorboardX.proto import event_pb2

    history = {}
    for path in glob.glob(os.path.join(logdir, "*", "events.out.tfevents.*")):
        tag = os.path.basename(os.path.dirname(path))
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):  # TFRecord: length, crc, payload, crc
            (n,) = struct.unpack_from("<Q", data, pos)
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
            for value in event.summary.value:
                if value.WhichOneof("value") != "simple_value":  # fairseq's text summary of sys.argv
                    continue
                history.setdefault(event.step, {})[f"{tag}/{value.tag}"] = value.simple_value
            pos += 12 + n + 4
    return history


def json_log(out):
    """{step: {tag/key: value}} of fairseq's --log-format json lines."""
    history = {}
    for line in out.splitlines():
        m = re.search(r"\| (train_inner|valid|train) \| (\{.*\})\s*$", line)
        if m:
            stats = json.loads(m.group(2))
            prefix = "" if m.group(1) == "train_inner" else m.group(1) + "_"
            step = int(stats[prefix + "num_updates"])
            for key, value in stats.items():
                if key in ("epoch", "update", prefix + "num_updates"):  # the bar's own fields, and the step
                    continue
                name = key[len(prefix):] if key.startswith(prefix) else key
                history.setdefault(step, {})[f"{m.group(1)}/{name}"] = float(value)
    return history


def train(args, tmp_path, name):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", WANDB_MODE="offline",
               WANDB_SILENT="true", WANDB_DIR=str(tmp_path / f"wandb-{name}"),
               WANDB_CACHE_DIR=str(tmp_path / "wandb-cache"), WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"),
               WANDB_DATA_DIR=str(tmp_path / "wandb-data"))
    os.makedirs(env["WANDB_DIR"])
    logdir = tmp_path / f"tb-{name}"
    cmd = [sys.executable, "-m", "fairseq_cli.train", *map(str, args), "--max-update", "3",
           "--wandb-project", "xtune-test", "--tensorboard-logdir", str(logdir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return json_log(out), wandb_history(env["WANDB_DIR"]), tensorboard_history(logdir)


def assert_close(a, b, rel, what):
    assert a.keys() == b.keys(), f"{what}: {sorted(a.keys() ^ b.keys())}"
    for step in a:
        assert a[step].keys() == b[step].keys(), f"{what} step {step}: {sorted(a[step].keys() ^ b[step].keys())}"
        for key in a[step]:
            assert math.isclose(a[step][key], b[step][key], rel_tol=rel, abs_tol=1e-9), (what, step, key)


def test_wandb_offline_records_r1_r2_and_languages_as_tensorboard(tiny, tmp_path):
    cs = ["--r1-augmentation", "cs", "--code-switch-dicts", tiny["dicts"]]
    log1, wb1, tb1 = train(train_args(tiny, tmp_path / "stage1", *cs), tmp_path, "stage1")
    log2, wb2, tb2 = train(train_args(tiny, tmp_path / "stage2", "--data-augmentation", "cs", *cs, "--r2-lambda", "5",
                                      "--teacher-path", tmp_path / "stage1" / "checkpoint_best.pt"), tmp_path, "stage2")

    assert sorted(wb1) == sorted(wb2) == [1, 2, 3]  # one history row per update
    assert wb1[1]["train_inner/r1_loss"] > 0 and wb1[1]["train_inner/r2_loss"] == 0
    assert wb2[1]["train_inner/r1_loss"] > 0 and wb2[1]["train_inner/r2_loss"] > 0
    for key in ("train_inner/acc_en", "valid/acc_en", "valid/acc_de", "valid/acc_fr", "valid/avg_acc",
                "valid/r1_loss", "train/r2_loss"):
        assert key in wb2[3], sorted(wb2[3])
    for wb, tb, log in ((wb1, tb1, log1), (wb2, tb2, log2)):
        assert_close(wb, log, 1e-5, "wandb against the json log")  # the log prints 6 significant digits
        assert_close(wb, tb, 1e-6, "wandb against tensorboard")  # tensorboard stores float32


def test_wandb_offline_under_hydra_one_clean_run(tiny, tmp_path):
    """fairseq-hydra-train imports the user dir inside its job, before the first progress bar: the same
    one run folder and no traceback, over two epochs (four progress bars)."""
    from conftest import USER_DIR
    from test_hydra_configs import HYDRA_DIR

    wandb_dir = tmp_path / "wandb"
    wandb_dir.mkdir()
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true",
               WANDB_DIR=str(wandb_dir), WANDB_CACHE_DIR=str(tmp_path / "wandb-cache"),
               WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"), WANDB_DATA_DIR=str(tmp_path / "wandb-data"))
    cmd = [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", HYDRA_DIR, "--config-name",
           "baseline_stage1", f"common.user_dir={USER_DIR}", f"task.data={tiny['bin']}",
           f"model.pretrained_dir={tiny['model']}", f"checkpoint.save_dir={tmp_path / 'ck'}", "common.cpu=true",
           "lr_scheduler.total_num_update=40", "optimization.max_epoch=2", "common.wandb_project=xtune-test"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    history = wandb_history(str(wandb_dir))
    assert len(history) == 2 and all("valid/avg_acc" in row and "train/loss" in row for row in history.values())
