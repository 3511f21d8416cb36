"""fairseq-hydra-train and fairseq-train with a learning-rate schedule input left out (issue #25, point 6).

fairseq-hydra-train merges fairseq's defaults over the YAML's ??? (add_defaults): a warm-up left ???
trained with 0 warm-up without a word, and a total_num_update left out became optimization.max_update,
0 unless set: a bare AssertionError in the scheduler. fairseq-train without --total-num-update failed
composing its configuration (a traceback). Each is now one line naming the key
(train_checks.install_job_check); with every input given, training runs (test_hydra_configs)."""

import os
import subprocess
import sys

import pytest

from conftest import USER_DIR, fairseq_train, train_args
from test_hydra_configs import HYDRA_DIR

TOTAL = ("--total-num-update (lr_scheduler.total_num_update) {}: expected the number of updates the "
         "polynomial_decay learning rate decays over, a positive number (ceil(training rows / batch size) * "
         "epochs, as in the pipeline's stage command.txt)")


def one_line(out):
    """The `error:` line ending the command's output, and no traceback."""
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in out and "HYDRA_FULL_ERROR" not in out and len(errors) == 1, out[-3000:]
    assert out.strip().splitlines()[-1] == errors[0], out[-3000:]
    return errors[0]


def hydra_train(tiny, tmp_path, name, *overrides, config_dir=HYDRA_DIR):
    """fairseq-hydra-train on NAME.yaml with the tiny inputs; returns (returncode, output)."""
    cmd = [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", str(config_dir), "--config-name", name,
           f"common.user_dir={USER_DIR}", f"task.data={tiny['bin']}", f"model.pretrained_dir={tiny['model']}",
           f"checkpoint.save_dir={tmp_path / 'ck'}", "common.cpu=true", *overrides]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_hydra_warmup_left_unset_is_one_line(tiny, tmp_path):
    """pos_stage1.yaml leaves the 10% warm-up to the command line: left out, it trained with none."""
    code, out = hydra_train(tiny, tmp_path, "pos_stage1", "lr_scheduler.total_num_update=20",
                            "optimization.max_update=1")
    assert code == 1
    assert one_line(out) == ("error: lr_scheduler.warmup_updates: ??? in --config-name pos_stage1 and not set on "
                             "the command line; expected lr_scheduler.warmup_updates=VALUE (fairseq would silently "
                             "use its default)")
    assert not (tmp_path / "ck" / "checkpoint_last.pt").exists()


def test_hydra_inputs_left_unset_are_named_together(tiny, tmp_path):
    """Every ??? left: the typed groups' too (checkpoint.save_dir: hydra's schema already filled in
    'checkpoints'), named in one line."""
    cmd = [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", HYDRA_DIR, "--config-name", "xnli_stage1",
           f"common.user_dir={USER_DIR}", "common.cpu=true"]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    keys = ["task.data", "task.code_switch_dicts", "model.pretrained_dir", "lr_scheduler.total_num_update",
            "checkpoint.save_dir"]
    assert one_line(proc.stdout + proc.stderr).startswith(f"error: {', '.join(keys)}: ??? in --config-name xnli_stage1")


def test_hydra_total_num_update_left_unset_is_one_line(tiny, tmp_path):
    code, out = hydra_train(tiny, tmp_path, "xnli_stage1", f"task.code_switch_dicts='{tiny['dicts']}'",
                            "optimization.max_update=1")
    assert code == 1
    assert one_line(out).startswith("error: lr_scheduler.total_num_update: ??? in --config-name xnli_stage1 and not "
                                    "set on the command line; expected lr_scheduler.total_num_update=VALUE")


@pytest.mark.parametrize("setting", ["absent", "0"])
def test_hydra_total_num_update_absent_or_zero_is_one_line(tiny, tmp_path, setting):
    """A YAML of one's own without the key: it is optimization.max_update, 0 unless set (the AssertionError)."""
    if setting == "absent":
        text = open(os.path.join(HYDRA_DIR, "baseline_stage1.yaml")).read()
        assert "  total_num_update: ???\n" in text
        (tmp_path / "mine.yaml").write_text(text.replace("  total_num_update: ???\n", ""))
        code, out = hydra_train(tiny, tmp_path, "mine", config_dir=tmp_path)
    else:
        code, out = hydra_train(tiny, tmp_path, "baseline_stage1", "lr_scheduler.total_num_update=0")
    assert code == 1
    assert one_line(out) == "error: " + TOTAL.format(0)


def test_fairseq_train_without_total_num_update_is_one_line(tiny, tmp_path):
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", "--lr-scheduler", "polynomial_decay",
                                         "--max-update", "1"), check=False)
    assert code != 0
    assert one_line(out) == "error: " + TOTAL.format("not given")
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", "--lr-scheduler", "polynomial_decay",
                                         "--total-num-update", "0"), check=False)
    assert code != 0
    assert one_line(out) == "error: " + TOTAL.format(0)


def test_hydra_every_input_given_trains(tiny, tmp_path):
    """The control: baseline_stage1 with its inputs all given passes the check (and trains an update)."""
    code, out = hydra_train(tiny, tmp_path, "baseline_stage1", "lr_scheduler.total_num_update=4",
                            "optimization.max_update=1")
    assert code == 0, out[-3000:]
    assert (tmp_path / "ck" / "checkpoint_last.pt").is_file()
