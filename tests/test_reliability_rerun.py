"""xtune-pipeline into a run folder that holds finished (or unfinished) stages: a stage is reused only
when its record (stageK/fingerprint.json) shows this run's training flags and data content; else one
line, before anything is trained or scored (issue #26, point 3)."""

import json
import os
import shutil

import pytest

from test_end_to_end import run_cli
from xtune_fairseq.pipeline.reuse import FINGERPRINT

PIPELINE = "xtune_fairseq.cli.pipeline"


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    """Both stages of the tiny recipe, one epoch each, trained on a copy of the tiny data (the data
    test rewrites that copy in place and restores it)."""
    root = tmp_path_factory.mktemp("rerun")
    data = root / "data"
    shutil.copytree(tiny["bin"], data)
    common = ["--model-dir", tiny["model"], "--data", data, "--code-switch-dicts", tiny["dicts"], "--cpu",
              "--epochs", "1", "--log-interval", "5"]
    flags = ["--recipe", "xnli", "--lr", "1e-3"]
    proc = run_cli(PIPELINE, *common, *flags, "--out", root / "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"root": root, "data": data, "run": root / "run", "common": common, "flags": flags}


def copied_run(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished["run"], out)
    return out


def rerun(finished, out, *flags, data=None):
    common = list(finished["common"])
    if data is not None:
        common[common.index("--data") + 1] = data
    return run_cli(PIPELINE, *common, *(flags or finished["flags"]), "--out", out)


def snapshot(out):
    """Every file of the run folder but the logs fairseq appends to, with its bytes."""
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "train.log"}


def scores(out, split="test"):
    """results.json without the checkpoints' paths (a copied run folder has other ones)."""
    results = json.loads((out / ("results.json" if split == "test" else f"results-{split}.json")).read_text())
    return {run: {k: v for k, v in r.items() if k != "checkpoint"} for run, r in results.items()}


def assert_refused(proc, out, before, *expected):
    """Exit 2 with one line naming what differs and how to start anew; nothing trained or written."""
    err = proc.stderr.strip()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert err.startswith(f"error: --out {out}: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "pass another --out, or remove" in err and "to train anew" in err, err
    for text in expected:
        assert text in err, err
    assert "rows x" not in proc.stdout  # no stage started
    assert snapshot(out) == before


def rewrite_data(tiny, dest, tmp_path):
    """The tiny data with its training rows in reverse order, binarized at dest."""
    from xtune_fairseq.prepare import preprocess

    with open(tiny["train"], encoding="utf-8") as f:
        header, *rows = f.readlines()
    train = tmp_path / "train-reversed.tsv"
    train.write_text(header + "".join(reversed(rows)), encoding="utf-8")
    preprocess(tiny["model"], str(dest), str(train), tiny["valid"], tiny["test"], tiny["translations"])


def test_unchanged_rerun_skips_the_finished_stages(finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    proc = rerun(finished, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("already finished") == 2 and "rows x" not in proc.stdout
    assert scores(out) == scores(finished["run"])  # rewritten: the same scores
    after = snapshot(out)
    assert set(after) == set(before)  # nothing trained: only results.json rewritten (this folder's paths)
    assert {str(p) for p in before if after[p] != before[p]} <= {"results.json"}
    for stage in (1, 2):
        assert json.loads((out / f"stage{stage}" / FINGERPRINT).read_text())["argv"]


def test_flags_that_do_not_change_training_still_reuse(finished, tmp_path):
    """Logging and loader processes, and the same data content at another path."""
    out = copied_run(finished, tmp_path)
    moved = tmp_path / "data-moved"
    shutil.copytree(finished["data"], moved)
    common = list(finished["common"])
    common[common.index("--log-interval") + 1] = "7"
    common[common.index("--data") + 1] = moved
    proc = run_cli(PIPELINE, *common, *finished["flags"], "--num-workers", "1", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("already finished") == 2 and scores(out) == scores(finished["run"])


def test_other_data_at_another_path_is_refused(tiny, finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    other = tmp_path / "data2"
    rewrite_data(tiny, other, tmp_path)
    proc = rerun(finished, out, data=other)
    assert_refused(proc, out, before, f"stage1 was trained on other data ({finished['data']}) than --data {other} "
                   "holds now (", "input0/train.bin", "meta/train.jsonl")


def test_other_rows_rewritten_at_the_same_path_are_refused(tiny, finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    data = finished["data"]
    kept = tmp_path / "data-original"
    os.rename(data, kept)
    try:
        rewrite_data(tiny, data, tmp_path)
        proc = rerun(finished, out)
    finally:
        shutil.rmtree(data, ignore_errors=True)
        os.rename(kept, data)
    assert_refused(proc, out, before, f"stage1 was trained on other data than --data {data} holds now (",
                   "input0/train.bin", "meta/train.jsonl")


def test_another_lr_is_refused(finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    proc = rerun(finished, out, "--recipe", "xnli", "--lr", "0.0001")
    assert_refused(proc, out, before, "stage1 was trained with --lr 0.001, this run has --lr 0.0001;",
                   f"remove {out / 'stage1'} and {out / 'stage2'} to train anew")


def test_another_seed_is_refused(finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    proc = rerun(finished, out, *finished["flags"], "--seed", "7")
    assert_refused(proc, out, before, "stage1 was trained with --seed 1, this run has --seed 7;")


def test_another_recipe_is_refused(finished, tmp_path):
    out = copied_run(finished, tmp_path)
    before = snapshot(out)
    proc = rerun(finished, out, "--recipe", "baseline", "--lr", "1e-3")
    assert_refused(proc, out, before, "stage1 was trained with --r1-augmentation cs --r1-lambda 5.0, "
                   "this run has --r1-augmentation none --r1-lambda 0.0;")


def test_an_unfinished_stage_resumes_only_with_its_own_flags(finished, tmp_path):
    """stage2 without DONE (killed after a checkpoint): another --lambda2 is refused, the same command
    resumes from checkpoint_last.pt (at the end of its only epoch: nothing left to train)."""
    out = copied_run(finished, tmp_path)
    (out / "stage2" / "DONE").unlink()
    before = snapshot(out)
    proc = rerun(finished, out, *finished["flags"], "--lambda2", "1")
    assert_refused(proc, out, before, "stage2 (unfinished: it would resume from checkpoint_last.pt) was started "
                   "with --r2-lambda 5.0, this run has --r2-lambda 1.0;", f"remove {out / 'stage2'} to train anew")

    proc = rerun(finished, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stage 1: already finished" in proc.stdout and "[xtune] stage 2: 1200 rows x 1 epochs" in proc.stdout
    assert (out / "stage2" / "DONE").is_file() and scores(out) == scores(finished["run"])
    after = snapshot(out)
    assert all(after[p] == before[p] for p in before if p.suffix == ".pt")  # resumed, not retrained


def test_a_run_folder_from_before_the_records_is_refused(finished, tmp_path):
    out = copied_run(finished, tmp_path)
    for stage in (1, 2):
        (out / f"stage{stage}" / FINGERPRINT).unlink()
    before = snapshot(out)
    proc = rerun(finished, out)
    assert_refused(proc, out, before, f"stage1 predates the record of its flags and data ({FINGERPRINT})")


def test_a_stage1_trained_anew_makes_the_finished_stage2_stale(finished, tmp_path):
    """stage1 removed and trained again with --stage1-epochs 2 (its record edited as that run would
    write it): stage 2 learnt from the other stage-1 model."""
    out = copied_run(finished, tmp_path)
    path = out / "stage1" / FINGERPRINT
    record = json.loads(path.read_text())
    for flag in ("--max-epoch", "--total-num-update"):  # two epochs of the same batches
        at = record["argv"].index(flag) + 1
        record["argv"][at] = str(int(record["argv"][at]) * 2)
    path.write_text(json.dumps(record))
    before = snapshot(out)
    proc = rerun(finished, out, *finished["flags"], "--stage1-epochs", "2")
    assert_refused(proc, out, before, "stage2 was trained against another stage-1 model",
                   f"remove {out / 'stage2'} to train anew")
