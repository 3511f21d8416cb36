"""xtune-gpu-check's code path on the CPU with a tiny model: every row of its table, the R1 / R2
check that must fail on a NaN, and the skip without CUDA."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, train_args
from xtune_fairseq.bench import gpu_check, gpu_timing

TINY = ["--device", "cpu", "--tiny", "--batch-size", "4", "--length", "32", "--warmup", "1", "--repeats", "2",
        "--updates", "1"]


def table_rows(out):
    return [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith("| ")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the path without CUDA")
def test_without_cuda_it_says_skipped_and_succeeds():
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu-check.sh")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "skipped: no CUDA", proc.stderr[-2000:]


def gpu_check_sh(env):
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu-check.sh")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


@pytest.mark.skipif(torch.cuda.is_available(), reason="the path without CUDA")
def test_an_environment_where_fairseq_imports_is_used_instead_of_the_venv(tmp_path):
    """XTUNE_PYTHON, or else a python3 on PATH where fairseq imports (a node without a registry, after
    scripts/wheelhouse.py install), runs the check as it is: no .venv built."""
    proc = gpu_check_sh({"XTUNE_PYTHON": sys.executable})
    assert proc.returncode == 0 and proc.stdout.strip() == "skipped: no CUDA", proc.stderr[-2000:]
    assert f"[gpu-check] python: {sys.executable}" in proc.stderr and "[setup]" not in proc.stderr
    (tmp_path / "python3").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (tmp_path / "python3").chmod(0o755)
    proc = gpu_check_sh({"PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert proc.returncode == 0 and f"[gpu-check] python: {tmp_path / 'python3'}" in proc.stderr, proc.stderr[-2000:]


def test_xtune_python_without_fairseq_ends_with_one_line(tmp_path):
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = str(tmp_path / "bare" / "bin" / "python")
    proc = gpu_check_sh({"XTUNE_PYTHON": bare})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (f"error: XTUNE_PYTHON={bare}: fairseq does not import with it "
                                   "(docs/offline-install.md)")


def test_the_default_tiny_vocabulary_takes_what_the_corpus_gives(tmp_path):
    """The GPU check builds its tiny model with the default vocabulary (400 pieces). sentencepiece 0.2.2
    refuses 400 on the generated corpus (399 at most) where 0.2.1 accepts it; the default then takes
    what sentencepiece finds. The same path here on a corpus too small for 400 with either version;
    an explicit vocabulary size stays exact (test_reliability_flags)."""
    from xtune_fairseq.core.errors import InputError
    from xtune_fairseq.prepare import build_tiny_model

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sits on the mat\nDie Katze sitzt auf der Matte\n" * 5, encoding="utf-8")
    model = build_tiny_model(str(tmp_path / "model"), str(corpus))
    pieces = (tmp_path / "model" / "dict.txt").read_text().splitlines()
    assert 20 < len(pieces) < 400 - 3 and os.path.isfile(os.path.join(model, "model.pt"))
    with pytest.raises(InputError, match=r"--vocab-size 400: .*Vocabulary size too high \(400\)"):
        build_tiny_model(str(tmp_path / "exact"), str(corpus), vocab_size=400)


def test_tiny_cpu_run_times_every_configuration(tmp_path, capsys):
    code = gpu_check.main(TINY + ["--no-pipeline", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    header, *body = table_rows(out)
    assert header[0].startswith("CPU") and header[2] == "s/update"
    assert [r[0] for r in body] == list(gpu_check.LABELS.values()) and {r[1] for r in body} == {"bf16"}
    assert body[0][3] == "1.00" and body[0][5] == "-"  # plain: the reference, no R1 / R2 terms
    assert all(r[5].startswith("finite") for r in body[1:])
    runs = json.loads((tmp_path / "r.json").read_text())["timings"]["bf16"]
    assert {r["dtype"] for r in runs.values()} == {"bfloat16"}
    assert all(r["s_per_update"] > 0 and len(r["terms"]) == 3 for name, r in runs.items() if name != "plain")
    assert all(t[0] > 0 for t in runs["r1"]["terms"]) and all(t[1] > 0 for t in runs["r2"]["terms"])
    # same start, same batches: the first update's R1 is the same with the teacher online or cached
    assert runs["r1+r2"]["terms"][0][0] == runs["r1+r2 cached"]["terms"][0][0]


def test_kl_check_fails_on_a_nan():
    assert gpu_timing.kl_finite([(0.1, 0.0), (0.2, 0.3)]) is True
    assert gpu_timing.kl_finite([(0.1, 0.0), (0.2, math.nan)]) is False
    assert gpu_timing.kl_finite([(math.inf, 0.0)]) is False and gpu_timing.kl_finite([]) is None
    assert "NON-FINITE" in gpu_timing.kl_cell([(0.1, math.nan)]) and gpu_timing.kl_cell(None) == "-"
    run = {"terms": [(0.1, 0.0)], "error": None}
    assert not gpu_check.failed({"timings": {"fp16": {"r1": run}}})
    assert gpu_check.failed({"timings": {"fp16": {"r1": {**run, "terms": [(math.nan, 0.0)]}}}})
    assert gpu_check.failed({"timings": {"fp16": {"r1": run}}, "pipeline": {"ok": False}})


def test_a_nan_in_training_is_reported_not_raised(tiny, tmp_path, monkeypatch):
    build = gpu_timing.build_trainer

    def poisoned(argv):
        task, trainer = build(argv)
        with torch.no_grad():
            trainer.model.classification_heads["sentence_classification_head"].out_proj.bias.fill_(math.nan)
        return task, trainer

    monkeypatch.setattr(gpu_timing, "build_trainer", poisoned)
    argv = train_args(tiny, str(tmp_path), "--r1-augmentation", "ss", "--r1-lambda", "5")
    batches = gpu_timing.same_batches(gpu_timing.training_task(argv)[2], 8, 3)
    run = gpu_timing.time_config(argv, batches, cuda=False, warmup=1, repeats=1, updates=2)
    assert gpu_timing.kl_finite(run["terms"]) is False and "non-finite training loss" in run["error"]
    assert "NON-FINITE" in gpu_timing.kl_cell(run["terms"])


@pytest.mark.slow  # the pipeline's two fairseq-train runs and its evaluation
def test_tiny_cpu_run_with_the_pipeline(capsys):
    assert gpu_check.main(TINY + ["--repeats", "1"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[-1][0] == "two-stage pipeline, tiny model" and rows[-1][-1] == "ok"


def test_bad_flags_end_with_one_line(capsys):
    assert gpu_check.main(["--device", "cpu", "--precisions", "fp16"]) == 2
    assert "needs CUDA" in capsys.readouterr().err
    assert gpu_check.main(["--device", "cpu", "--precisions", "fp8"]) == 2


def test_base_shaped_model_has_xlmr_rows_and_trains(tiny, tmp_path):
    """XLM-R base's 250,002 embedding rows (tiny layers here): the data binarized with its dict.txt
    gives the task a dictionary of the same size, so the model loads (a mismatch is refused)."""
    shape = {**gpu_check.XLMR_BASE, "layers": 1, "dim": 8, "heads": 2, "ffn": 16}
    model_dir = gpu_check.base_shaped_model(str(tmp_path / "model"), tiny["model"], shape)
    from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
    from xtune_fairseq.prepare import preprocess

    rows = safe_load(os.path.join(model_dir, "model.pt"))["model"]["encoder.sentence_encoder.embed_tokens.weight"]
    assert rows.shape == (250002, 8)
    bin_dir = preprocess(model_dir, str(tmp_path / "bin"), tiny["train"])
    argv = train_args({**tiny, "bin": bin_dir, "model": model_dir}, str(tmp_path / "save"))
    _, cfg, task = gpu_timing.training_task(argv)
    assert len(task.source_dictionary) == 250002
    assert task.build_model(cfg.model).encoder.sentence_encoder.embed_tokens.weight.shape == (250002, 8)
