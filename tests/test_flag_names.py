"""One name per meaning across the xtune-* commands (issue #25, point 6), the earlier spelling kept as an
alias: the output folder --out (xtune-preprocess's --dest), the split --split (xtune-pipeline's
--eval-split), a teacher path --teacher-path as fairseq-train's (xtune-teacher-cache's --teacher), the
pipeline's stage-1 choice --teacher-checkpoint best|last (its --teacher). Both spellings give the same
result; the help names the new one first."""

import os

import pytest

from xtune_fairseq.cli import pipeline, preprocess, teacher_cache


def tree(root):
    """{relative path: bytes} of every file under root; fairseq-preprocess's own preprocess.log only by
    name (it logs the temporary folder the data was built in)."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            files[os.path.relpath(path, root)] = b"" if name == "preprocess.log" else open(path, "rb").read()
    return files


def test_preprocess_out_and_dest_write_the_same_data(tiny, tmp_path):
    inputs = ["--model-dir", tiny["model"], "--train", tiny["train"], "--valid", tiny["valid"], "--test", tiny["test"]]
    assert preprocess.main(inputs + ["--out", str(tmp_path / "a")]) == 0
    assert preprocess.main(inputs + ["--dest", str(tmp_path / "b")]) == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert "xtune.json" in a and a.keys() == b.keys() and [k for k in a if a[k] != b[k]] == []


def test_preprocess_refusal_names_out(tiny, tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for spelling in ("--out", "--dest"):
        code = preprocess.main(["--model-dir", tiny["model"], "--train", tiny["train"], spelling, str(target)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"error: --out {target}: is a file"), err


@pytest.mark.parametrize("new,old,value,field", [
    ("--split", "--eval-split", "valid", "eval_split"),
    ("--teacher-checkpoint", "--teacher", "last", "teacher"),
])
def test_pipeline_new_and_old_spellings_agree(tmp_path, new, old, value, field):
    base = ["--model-dir", "m", "--data", "d", "--out", str(tmp_path / "o")]
    default = pipeline.parse(base)
    ours, theirs = pipeline.parse(base + [new, value]), pipeline.parse(base + [old, value])
    assert ours == theirs and getattr(ours, field) == value != getattr(default, field)


def test_pipeline_teacher_choices_still_checked(tmp_path, capsys):
    with pytest.raises(SystemExit):
        pipeline.parse(["--model-dir", "m", "--data", "d", "--out", str(tmp_path / "o"), "--teacher-checkpoint", "x"])
    assert "invalid choice: 'x'" in capsys.readouterr().err


def test_help_names_the_new_spelling_first(capsys):
    for main, line in [(pipeline.main, "--split SPLIT, --eval-split SPLIT"),
                       (pipeline.main, "--teacher-checkpoint {best,last}, --teacher {best,last}"),
                       (preprocess.main, "--out OUT, --dest OUT"),
                       (teacher_cache.main, "--teacher-path TEACHER_PATH, --teacher TEACHER_PATH")]:
        with pytest.raises(SystemExit):
            main(["--help"])
        assert line in capsys.readouterr().out


def test_teacher_cache_teacher_path_and_teacher_agree(tiny, tmp_path, capsys):
    """The same one-line refusal of a missing teacher file under either spelling (the cache itself:
    test_criterion, with --teacher)."""
    errors = []
    for spelling in ("--teacher-path", "--teacher"):
        code = teacher_cache.main([spelling, str(tmp_path / "none.pt"), "--data", tiny["bin"],
                                   "--out", str(tmp_path / "cache.pt")])
        errors.append((code, capsys.readouterr().err))
    assert errors[0] == errors[1] and errors[0][0] == 2 and str(tmp_path / "none.pt") in errors[0][1]
