"""xtune-pipeline's runtime flags: --update-freq, --max-tokens, --fp16 / --bf16, --num-workers reach
fairseq-train in both stages, the learning-rate schedule counts the updates fairseq really makes with
them, bad values end with one line; and fairseq-validate scores our checkpoints as training did."""

import json
import math
import os
import re
import shlex
import subprocess
import sys

import pytest
import torch

from conftest import USER_DIR
from test_end_to_end import run_cli
from xtune_fairseq.cli import pipeline
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.pipeline import commands as pipeline_commands
from xtune_fairseq.pipeline.checks import check_fairseq_args
from xtune_fairseq.pipeline.commands import BF16_TRAINER, TRAINER, train_command
from xtune_fairseq.pipeline.config import resolve_kind_defaults
from xtune_fairseq.pipeline.schedule import flag_value, schedule, updates_per_epoch

BASE = ["--model-dir", "m", "--data", "d", "--out", "o"]


# --- the schedule: pure arithmetic -----------------------------------------------------------------

def test_updates_count_accumulated_batches_on_every_process():
    assert updates_per_epoch(19) == 19
    assert updates_per_epoch(19, update_freq=2) == 10  # the last update holds one batch
    assert updates_per_epoch(20, update_freq=3) == 7
    assert updates_per_epoch(19, update_freq=2, world_size=2) == 5  # 10 batches per process, 2 per update
    assert updates_per_epoch(0) == 0
    assert schedule(19, epochs=3, warmup_ratio=0.1, update_freq=2) == (30, 3)
    with pytest.raises(ValueError):
        updates_per_epoch(19, update_freq=0)


def test_flag_value_reads_both_spellings_and_the_last_wins():
    assert flag_value(["--a", "1", "--b", "x"], "--a") == "1"
    assert flag_value(["--a", "1", "--a=2"], "--a") == "2"
    assert flag_value(["--ab", "1"], "--a") is None


@pytest.mark.parametrize("extra,owner", [
    ("--update-freq 2", "--update-freq"), ("--max-tokens=4000", "--max-tokens"), ("--max-sentences 8", "--batch-size"),
    ("--log-format json --fp16", "--fp16"), ("--memory-efficient-bf16", "--bf16"), ("--num-workers 4", "--num-workers"),
    ("--max-epoch 3", "--epochs / --stage1-epochs"), ("--warmup-updates 10", "--warmup-ratio"),
])
def test_fairseq_args_may_not_set_what_the_schedule_depends_on(extra, owner):
    with pytest.raises(InputError, match=re.escape(f"is set by xtune-pipeline; use its {owner}")):
        check_fairseq_args(extra)
    check_fairseq_args("--log-format json --max-update 4 --distributed-world-size 2")  # the others pass


# --- the commands ------------------------------------------------------------------------------------

def fake_data(tmp_path, kind="classification"):
    """The command reads only the data's kind (xtune.json)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "xtune.json").write_text(json.dumps({"format": 1, "kind": kind}))
    return str(data)


def commands(tmp_path, *flags, n_rows=100):
    a = pipeline.parse(["--model-dir", "m", "--data", fake_data(tmp_path), "--out", str(tmp_path / "run"),
                        "--recipe", "baseline", "--epochs", "3", *flags])
    resolve_kind_defaults(a, "classification", ["a", "b"])
    return [train_command(a, stage, str(tmp_path / f"s{stage}"), n_rows) for stage in (1, 2)]


def parsed(cmd):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    return convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), cmd[3:]))


def value(cmd, flag):
    return cmd[cmd.index(flag) + 1]


def test_both_stages_carry_the_runtime_flags(tmp_path):
    for cmd in commands(tmp_path, "--update-freq", "2", "--num-workers", "3", "--bf16", "--cpu", "--batch-size", "16"):
        assert cmd[1:3] == ["-m", BF16_TRAINER]
        cfg = parsed(cmd)
        assert cfg.optimization.update_freq == [2] and cfg.dataset.num_workers == 3 and cfg.dataset.batch_size == 16
        assert cfg.common.bf16 and cfg.common.cpu
        # 100 rows / 16 = 7 batches, 4 updates of 2 batches per epoch, 3 epochs
        assert value(cmd, "--total-num-update") == str(math.ceil(7 / 2) * 3) == "12"
    for cmd in commands(tmp_path, "--fp16"):
        assert cmd[1:3] == ["-m", TRAINER] and parsed(cmd).common.fp16 and "--cpu" not in cmd


def test_logging_flags_reach_both_stages(tmp_path):
    for stage, cmd in enumerate(commands(tmp_path, "--wandb-project", "p", "--tensorboard-logdir", "tb"), 1):
        cfg = parsed(cmd)
        assert cfg.common.wandb_project == "p" and cfg.common.tensorboard_logdir == os.path.join("tb", f"stage{stage}")
    a = pipeline.parse(["--model-dir", "m", "--data", "d", "--out", str(tmp_path / "run")])
    assert pipeline_commands.logging_env(a, 2)["WANDB_NAME"] == "run-stage2"


def test_default_commands_keep_fairseqs_defaults(tmp_path):
    """No runtime flag given: the command parses as before the flags existed (the YAMLs compare with it)."""
    for cmd in commands(tmp_path, "--cpu"):
        assert cmd[1:3] == ["-m", TRAINER] and "--update-freq" not in cmd and "--max-tokens" not in cmd
        cfg = parsed(cmd)
        assert cfg.optimization.update_freq == [1] and cfg.dataset.num_workers == 0 and cfg.dataset.max_tokens is None
        assert not cfg.common.fp16 and not cfg.common.bf16
        assert value(cmd, "--total-num-update") == str(math.ceil(100 / 32) * 3)


def test_schedule_follows_the_data_parallel_processes(tmp_path):
    stage1, _ = commands(tmp_path, "--cpu", "--fairseq-args", "--distributed-world-size 2", "--update-freq", "2")
    assert value(stage1, "--total-num-update") == str(math.ceil(math.ceil(4 / 2) / 2) * 3)


# --- refused settings: one line, exit 2 ----------------------------------------------------------------

@pytest.mark.parametrize("flags,message", [
    (["--update-freq", "0"], "--update-freq 0: expected a number in [1, inf)"),
    (["--max-tokens", "0"], "--max-tokens 0: expected a number in [1, inf)"),
    (["--num-workers", "-1"], "--num-workers -1: expected a number in [0, inf)"),
    (["--max-tokens", "100"], "--max-tokens 100 is below --max-positions 256: a batch must hold the longest row"),
    (["--fairseq-args", "--update-freq 4"], "--update-freq is set by xtune-pipeline; use its --update-freq"),
])
def test_out_of_range_runtime_flags_are_refused(capsys, flags, message):
    assert pipeline.main(BASE + flags) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_fp16_and_bf16_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_:
        pipeline.parse(BASE + ["--fp16", "--bf16"])
    assert exit_.value.code == 2 and "argument --bf16: not allowed with argument --fp16" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("flags,message", [
    (["--fp16"], "error: --fp16 needs a CUDA GPU and this machine has none"),
    (["--fp16", "--cpu"], "error: --fp16 with --cpu: fairseq's float16 training runs on CUDA only"),
])
def test_fp16_without_cuda_is_one_clear_line(capsys, flags, message):
    """fairseq itself stops with a traceback ending in 'Torch not compiled with CUDA enabled'."""
    assert pipeline.main(BASE + flags) == 2
    assert capsys.readouterr().err.strip().startswith(message)


def test_bf16_entry_point_keeps_fairseq_off_the_tpu():
    from fairseq import options

    from xtune_fairseq.cli.fairseq_train import keep_bf16_off_tpu

    argv = ["data", "--task", "translation", "--arch", "transformer", "--bf16"]
    assert options.parse_args_and_arch(options.get_training_parser(), argv).tpu  # why the entry point exists
    parse = keep_bf16_off_tpu(options.parse_args_and_arch, argv)
    args = parse(options.get_training_parser(), argv)
    assert args.bf16 and not args.tpu
    asked = keep_bf16_off_tpu(options.parse_args_and_arch, argv + ["--tpu"])
    assert asked(options.get_training_parser(), argv + ["--tpu"]).tpu


@pytest.mark.slow  # a stage-1 training in bfloat16 (about 20 s)
def test_bf16_stage_trains_on_the_cpu(tiny, tmp_path):
    out = tmp_path / "run"
    proc = run_cli("xtune_fairseq.cli.pipeline", "--model-dir", tiny["model"], "--data", tiny["bin"], "--out", out,
                   "--recipe", "baseline", "--stages", "1", "--lr", "1e-3", "--epochs", "1", "--cpu", "--bf16")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"-m {BF16_TRAINER} " in (out / "stage1" / "command.txt").read_text()
    state = torch.load(out / "stage1" / "checkpoint_best.pt", weights_only=False)
    assert state["cfg"]["common"]["bf16"] and not state["cfg"]["common"]["tpu"]


# --- a tiny two-stage run: --update-freq 2, --max-tokens; then fairseq-validate ------------------------

@pytest.fixture(scope="module")
def accumulated_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("accumulated") / "run"
    proc = run_cli("xtune_fairseq.cli.pipeline", "--model-dir", tiny["model"], "--data", tiny["bin"], "--out", out,
                   "--recipe", "xnli", "--lr", "1e-3", "--epochs", "1", "--code-switch-dicts", tiny["dicts"], "--cpu",
                   "--log-interval", "10", "--update-freq", "2", "--max-positions", "64", "--max-tokens", "256")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def final_updates(log: str) -> int:
    return int(re.findall(r"\| train \|.* num_updates (\d+)", log)[-1])


@pytest.mark.parametrize("stage,rows", [(1, 600), (2, 1200)])
def test_schedule_ends_with_the_last_update(accumulated_run, stage, rows):
    """polynomial_decay reaches 0 exactly at fairseq's last update: with token-capped batches of 2 per
    update, not one update per --batch-size rows."""
    folder = accumulated_run / f"stage{stage}"
    cmd = shlex.split((folder / "command.txt").read_text())
    assert value(cmd, "--update-freq") == "2" and value(cmd, "--max-tokens") == "256"
    total = int(value(cmd, "--total-num-update"))
    assert final_updates((folder / "train.log").read_text()) == total
    assert total > updates_per_epoch(math.ceil(rows / 32), update_freq=2)  # the token cap made more batches


def fairseq_validate(data, checkpoint, *extra):
    cmd = [sys.executable, "-m", "fairseq_cli.validate", data, "--user-dir", USER_DIR, "--path", checkpoint,
           "--task", "xtune_classification", "--criterion", "xtune_consistency", "--valid-subset", "valid",
           "--batch-size", "32", "--cpu", "--log-format", "simple", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout + proc.stderr


def avg_acc(line: str) -> float:
    return float(re.search(r"\| avg_acc ([\d.]+)", line).group(1))


def test_fairseq_validate_gives_the_dev_accuracy_of_training_and_xtune_evaluate(tiny, accumulated_run, tmp_path):
    from xtune_fairseq.evaluation import evaluate

    best = accumulated_run / "stage2" / "checkpoint_best.pt"
    logged = [avg_acc(line) for line in (accumulated_run / "stage2" / "train.log").read_text().splitlines()
              if "valid on 'valid' subset" in line]
    # R2 acts only in training: with --r2-lambda 0 the stage-1 teacher is not loaded (it may be gone)
    (accumulated_run / "stage1").rename(tmp_path / "stage1-moved")
    try:
        out = fairseq_validate(tiny["bin"], str(best), "--r2-lambda", "0")
    finally:
        (tmp_path / "stage1-moved").rename(accumulated_run / "stage1")
    validated = avg_acc([line for line in out.splitlines() if "valid on 'valid' subset" in line][-1])
    evaluated = evaluate([f"s2={best}"], tiny["bin"], "valid")["s2"]["average"]
    assert validated == max(logged)  # checkpoint_best is the run's best dev score
    assert validated == pytest.approx(evaluated, abs=0.006)  # the log rounds to 2 decimals


def stage_losses(out, stage=1):
    log = open(os.path.join(out, f"stage{stage}", "train.log")).read()
    return re.findall(r"\| train_inner \|.*? loss=([\d.]+),.*? r1_loss=([\d.]+)", log)


def test_binarized_views_train_as_online_views(tiny, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny["bin"], data)  # views are written into the data directory
    common = ["--model-dir", tiny["model"], "--data", str(data), "--recipe", "xnli", "--lr", "1e-3", "--epochs", "2",
              "--stages", "1", "--eval-stages", "", "--code-switch-dicts", tiny["dicts"], "--cpu", "--log-interval", "1"]
    online = run_cli("xtune_fairseq.cli.pipeline", *common, "--out", tmp_path / "online")
    stored = run_cli("xtune_fairseq.cli.pipeline", *common, "--out", tmp_path / "stored", "--binarized-views-epochs", "1")
    assert online.returncode == 0 and stored.returncode == 0, online.stderr + stored.stderr
    assert "--binarized-views stored-stage1" in open(tmp_path / "stored" / "stage1" / "command.txt").read()
    assert os.path.isfile(data / "views" / "stored-stage1" / "epoch1" / "partner.bin")
    losses = stage_losses(tmp_path / "stored")
    assert len(losses) > 4 and any(float(r1) > 0 for _, r1 in losses)
    assert losses == stage_losses(tmp_path / "online")  # epoch 1 from the stored views, epoch 2 drawn online
    assert "online from here on" in open(tmp_path / "stored" / "stage1" / "train.log").read()
