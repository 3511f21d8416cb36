"""The whole recipe on the tiny model: preprocess (fixture), stage 1, stage 2 with the
stage-1 teacher, evaluation per language; a rerun skips finished stages."""

import json
import os
import subprocess
import sys

from conftest import ROOT, USER_DIR, fairseq_train, train_args


def run_cli(module, *args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


def test_pipeline_stage1_stage2_evaluate(tiny, tmp_path):
    out = tmp_path / "run"
    args = ["--model-dir", tiny["model"], "--data", tiny["bin"], "--out", out, "--recipe", "xnli", "--lr", "1e-3",
            "--epochs", "2", "--code-switch-dicts", tiny["dicts"], "--cpu", "--log-interval", "5"]
    proc = run_cli("xtune_fairseq.cli.pipeline", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[xtune] stage 1" in proc.stdout and "[xtune] stage 2" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"stage1", "stage2"}
    for r in results.values():
        assert set(r["per_language"]) == {"en", "de", "fr"}
        assert abs(r["average"] - sum(r["per_language"].values()) / 3) < 1e-9
        others = (r["per_language"]["de"] + r["per_language"]["fr"]) / 2
        assert abs(r["transfer_gap"] - (r["per_language"]["en"] - others)) < 1e-9
    assert "| stage2 |" in (out / "results.md").read_text()
    cmd2 = (out / "stage2" / "command.txt").read_text()
    assert "--teacher-path" in cmd2 and "--pretrained-dir" in cmd2 and "--data-augmentation cs" in cmd2
    log2 = (out / "stage2" / "train.log").read_text()
    assert "r2_loss" in log2 and "loaded train: 1200 rows (600 augmented)" in log2

    test_scores = (out / "results.json").read_text()
    again = run_cli("xtune_fairseq.cli.pipeline", *args, "--eval-split", "valid")  # scored on dev, not retrained
    assert again.returncode == 0 and again.stdout.count("already finished") == 2
    dev = json.loads((out / "results-valid.json").read_text())
    assert {r["split"] for r in dev.values()} == {"valid"} and (out / "results.json").read_text() == test_scores


def test_user_dir_by_absolute_path_from_another_folder_and_twice(tiny, tmp_path):
    fairseq_train(train_args(tiny, tmp_path / "ck", "--max-update", "2"), cwd=str(tmp_path))
    code = ("import argparse; from fairseq.utils import import_user_module as m; "
            f"m(argparse.Namespace(user_dir={USER_DIR!r})); m(argparse.Namespace(user_dir={USER_DIR!r})); "
            "m(argparse.Namespace(user_dir='user_dir')); "
            "from fairseq.criterions import CRITERION_REGISTRY as C; from fairseq.tasks import TASK_REGISTRY as T; "
            "from fairseq.models import MODEL_REGISTRY as M; "
            "assert 'xtune_consistency' in C and 'xtune_classification' in T and 'xlmr_xtune' in M; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_evaluate_cli_and_bad_inputs(tiny, tmp_path):
    save = tmp_path / "ck"
    fairseq_train(train_args(tiny, save, "--max-update", "3"))
    proc = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", f"mine={save / 'checkpoint_best.pt'}",
                   "--data", tiny["bin"], "--split", "valid", "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert "| mine |" in proc.stdout
    assert json.loads((tmp_path / "r.json").read_text())["mine"]["split"] == "valid"

    missing = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", tmp_path / "nope.pt", "--data", tiny["bin"])
    assert missing.returncode == 2 and "nope.pt: checkpoint not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_preprocess_errors_are_one_clear_line(tiny, tmp_path):
    bad = tmp_path / "test.tsv"
    bad.write_text("id\tlang\tsentence\tlabel\n1\tde\tfoo bar\tmaybe\n")
    proc = run_cli("xtune_fairseq.cli.preprocess", "--model-dir", tiny["model"], "--train", tiny["train"],
                   "--test", bad, "--dest", tmp_path / "out")
    assert proc.returncode == 2 and f"{bad}:2: unknown label 'maybe'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]

    proc = run_cli("xtune_fairseq.cli.preprocess", "--model-dir", tmp_path, "--train", tiny["train"],
                   "--dest", tmp_path / "out")
    assert proc.returncode == 2 and "lacks model.pt, dict.txt, sentencepiece.bpe.model" in proc.stderr


def test_fairseq_train_user_mistakes_end_with_one_line(tiny, tmp_path):
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", "--r2-lambda", "1"), check=False)
    assert code != 0 and "error: --r2-lambda > 0 needs --teacher-path (the stage-1 checkpoint)" in out
    assert "Traceback" not in out
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", "--r1-augmentation", "cs"), check=False)
    assert code != 0 and "needs --code-switch-dicts" in out and "Traceback" not in out


def test_non_finite_loss_stops_before_any_checkpoint(tiny, tmp_path):
    save = tmp_path / "ck"
    code, out = fairseq_train(train_args(tiny, save, "--r1-augmentation", "gn", "--noise-std", "1e30",
                                         "--max-update", "3"), check=False)
    assert code != 0 and "error: non-finite training loss" in out and "Traceback" not in out
    assert not (save / "checkpoint_last.pt").exists() and not (save / "checkpoint_best.pt").exists()
