"""Numeric flags: a value outside its range (NaN included) is refused with one line naming the flag,
the value and the range, in the criterion, the tasks, xtune-pipeline and the other CLIs; a setting
that makes a selected augmentation change nothing is a warning."""

import logging

import pytest

from conftest import make_task
from xtune_fairseq.core.errors import InputError


@pytest.mark.parametrize("flags,message", [
    (["--r1-lambda", "-1"], "--r1-lambda -1.0: expected a number in [0, inf)"),
    (["--r1-lambda", "nan"], "--r1-lambda nan: expected a number in [0, inf)"),
    (["--r2-lambda", "nan"], "--r2-lambda nan: expected"),  # NaN also skipped the --teacher-path check
    (["--r2-lambda", "-2"], "--r2-lambda -2.0: expected"),
])
def test_criterion_refuses_out_of_range_lambdas(tiny, flags, message):
    with pytest.raises(InputError) as err:
        make_task(tiny, *flags, criterion=True)
    assert message in str(err.value)


@pytest.mark.parametrize("flags,message", [
    (["--augmented-ratio", "-0.5"], "--augmented-ratio -0.5: expected a number in [0, inf)"),
    (["--augmented-ratio", "nan"], "--augmented-ratio nan: expected"),
    (["--code-switch-ratio", "1.5"], "--code-switch-ratio 1.5: expected a number in [0, 1]"),
    (["--subword-ratio", "-0.1"], "--subword-ratio -0.1: expected a number in [0, 1]"),
    (["--noise-std", "-1"], "--noise-std -1.0: expected a number in [0, inf)"),
    (["--noise-std", "inf"], "--noise-std inf: expected"),
    (["--subword-nbest", "0"], "--subword-nbest 0: expected -1 or a number in [1, inf)"),
    (["--max-positions", "0"], "--max-positions 0: expected"),
])
def test_tasks_refuse_out_of_range_flags(tiny, flags, message):
    with pytest.raises(InputError) as err:
        make_task(tiny, *flags)
    assert message in str(err.value)


def test_tagging_task_checks_ranges_too(tiny):
    with pytest.raises(InputError, match=r"--code-switch-ratio -1\.0"):
        make_task(tiny, "--code-switch-ratio", "-1", task="xtune_sequence_labeling")


def test_in_range_values_pass(tiny):
    task, _, criterion = make_task(tiny, "--r1-lambda", "0", "--subword-nbest", "-1", "--code-switch-ratio", "1",
                                   criterion=True)
    assert criterion.cfg.r1_lambda == 0


@pytest.mark.parametrize("flags,message", [
    (["--data-augmentation", "cs", "--augmented-ratio", "0"], "--augmented-ratio 0.0 adds no cs copies"),
    (["--r1-augmentation", "cs", "--code-switch-ratio", "0"], "--r1-augmentation cs with --code-switch-ratio 0.0"),
    (["--r1-augmentation", "gn", "--noise-std", "0"], "--r1-augmentation gn with --noise-std 0.0"),
    (["--data-augmentation", "ss", "--subword-ratio", "0"], "--data-augmentation ss with --subword-ratio 0.0"),
])
def test_settings_that_change_nothing_are_warned(tiny, caplog, flags, message):
    with caplog.at_level(logging.WARNING):
        make_task(tiny, *flags, "--code-switch-dicts", tiny["dicts"])
    assert message in caplog.text


def test_dictionary_matching_no_training_word_is_warned(tiny, tmp_path, caplog):
    unrelated = tmp_path / "en-xx.txt"
    unrelated.write_text("zebra zebu\nquokka kwokka\n")
    task, _ = make_task(tiny, "--r1-augmentation", "cs", "--code-switch-dicts", f"{tiny['dict_de']},{unrelated}")
    with caplog.at_level(logging.WARNING):
        task.load_dataset("train")
    assert f"{unrelated}: no entry matches a word of the training data" in caplog.text
    assert tiny["dict_de"] not in caplog.text


def test_pipeline_refuses_out_of_range_flags(capsys):
    from xtune_fairseq.cli import pipeline

    base = ["--model-dir", "m", "--data", "d", "--out", "o"]
    with pytest.raises(InputError, match=r"--lambda1 -1\.0: expected a number in \[0, inf\)"):
        pipeline.parse(base + ["--lambda1", "-1"])
    with pytest.raises(InputError, match=r"--warmup-ratio 1\.5: expected a number in \[0, 1\]"):
        pipeline.parse(base + ["--warmup-ratio", "1.5"])
    assert pipeline.main(base + ["--augmented-ratio", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --augmented-ratio nan: expected a number in [0, inf)"


@pytest.mark.parametrize("module,argv,message", [
    ("evaluate", ["--checkpoint", "x.pt", "--data", "d", "--batch-size", "0"], "--batch-size 0: expected"),
    ("retrieval", ["--model", "m", "--bible", "-3"], "--bible -3: expected"),
    ("represent", ["--model", "m", "--data", "d", "--out", "o.png", "--per-lang", "0"], "--per-lang 0: expected"),
    ("teacher_cache", ["--teacher", "t", "--data", "d", "--out", "o", "--batch-size", "-1"], "--batch-size -1"),
    ("preprocess", ["--model-dir", "m", "--train", "t", "--dest", "d", "--workers", "0"], "--workers 0: expected"),
    ("make_tiny_model", ["--out", "o", "--layers", "0"], "--layers 0: expected"),
    ("demo", ["--n-train", "2001"], "--n-train 2001: expected a number in [1, 2000]"),
    ("demo", ["--epochs", "0"], "--epochs 0: expected"),
    ("demo", ["--task", "pos", "--epochs", "3"], "--epochs is a flag of the sentiment rows"),
])
def test_other_clis_refuse_out_of_range_flags(capsys, tmp_path, monkeypatch, module, argv, message):
    import importlib

    monkeypatch.chdir(tmp_path)  # relative paths: nothing lands in the repository even if a check is missing
    assert importlib.import_module(f"xtune_fairseq.cli.{module}").main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1


def test_every_numeric_flag_has_a_range():
    """A new numeric flag of the criterion, the tasks or xtune-pipeline needs an entry in RANGES."""
    import dataclasses
    import typing

    from xtune_fairseq.cli.pipeline import build_parser
    from xtune_fairseq.fairseq_wiring.criterions.xtune_consistency import XtuneConsistencyConfig
    from xtune_fairseq.core.flag_ranges import RANGES
    from xtune_fairseq.fairseq_wiring.tasks.xtune_sequence_labeling import XtuneSequenceLabelingConfig
    from xtune_fairseq.fairseq_wiring.tasks.xtune_span_extraction import XtuneSpanExtractionConfig

    numeric = (int, float, typing.Optional[int], typing.Optional[float])
    names = {f.name for c in (XtuneConsistencyConfig, XtuneSequenceLabelingConfig, XtuneSpanExtractionConfig)
             for f in dataclasses.fields(c) if f.type in numeric}
    names |= {a.dest for a in build_parser()._actions if a.type in (int, float)}
    assert len(names) > 20 and sorted(names - set(RANGES)) == []
