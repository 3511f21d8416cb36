"""Issue #26, point 2: an output pointed at an input never overwrites it. A command never writes onto
a file it reads, into a data or model directory it reads, or over a file it did not write: a file
output may replace only the same command's previous output (the hidden `.NAME.xtune` marker beside
it, files.mark_output), a folder output only the same command's folder with nothing added to it at
any depth (the list of files in its marker, files.check_replaceable); anything else needs --force.
Each refusal is one `error:` line naming the flag and the path, exit 2, the input's bytes unchanged."""

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from xtune_fairseq.cli import evaluate, make_tiny_model, pipeline, preprocess, represent, retrieval, teacher_cache


def run_cli(module, *args):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory):
    """One stage-1 run of xtune-pipeline on the tiny data (the module's one training): its run folder,
    whose checkpoint the other commands read."""
    out = tmp_path_factory.mktemp("reliability-outputs") / "run"
    proc = run_cli("xtune_fairseq.cli.pipeline", *pipeline_args(tiny, out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"out": out, "checkpoint": str(out / "stage1" / "checkpoint_best.pt")}


def pipeline_args(tiny, out):
    return ["--model-dir", tiny["model"], "--data", tiny["bin"], "--out", out, "--recipe", "baseline", "--stages", "1",
            "--epochs", "1", "--lr", "1e-3", "--batch-size", "64", "--cpu", "--log-interval", "50"]


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(capsys, code, *words):
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (code, err)
    for w in words:
        assert w in err, err
    return err


def unchanged(path, before):
    assert digest(path) == before, f"{path} was changed"


# --- file outputs onto an input, or into an input folder -----------------------------------------------

@pytest.mark.parametrize("flag,name", [("--json", "xtune.json"), ("--markdown", os.path.join("meta", "test.jsonl"))])
def test_evaluate_output_inside_the_data_directory_it_reads(tiny, run, capsys, flag, name):
    target = os.path.join(tiny["bin"], name)  # --data is also the checkpoint's training folder
    before = digest(target)
    for force in ([], ["--force"]):
        code = evaluate.main(["--checkpoint", run["checkpoint"], "--data", tiny["bin"], flag, target] + force)
        refused(capsys, code, f"{flag} {target}:", f"inside {tiny['bin']}", "an input of this command")
    unchanged(target, before)


def test_evaluate_output_onto_the_checkpoints_training_folder(tiny, run, tmp_path, capsys):
    """--data elsewhere: the training folder is not read, but its xtune.json is no file of xtune-evaluate's."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny["bin"], copy)
    target = os.path.join(tiny["bin"], "xtune.json")
    before = digest(target)
    code = evaluate.main(["--checkpoint", run["checkpoint"], "--data", str(copy), "--json", target])
    refused(capsys, code, f"--json {target}:", "xtune-evaluate did not write it", "--force")
    unchanged(target, before)


def test_teacher_cache_out_inside_the_data_directory(tiny, run, capsys):
    target = os.path.join(tiny["bin"], "meta", "train.jsonl")
    before = digest(target)
    for force in ([], ["--force"]):
        code = teacher_cache.main(["--teacher", run["checkpoint"], "--data", tiny["bin"], "--out", target] + force)
        refused(capsys, code, f"--out {target}:", f"inside {tiny['bin']}", "an input of this command")
    unchanged(target, before)


@pytest.mark.parametrize("model", ["checkpoint", "model_dir"])
def test_represent_out_onto_the_model_it_reads(tiny, run, capsys, model):
    path, target = ((run["checkpoint"], run["checkpoint"]) if model == "checkpoint" else
                    (tiny["model"], os.path.join(tiny["model"], "model.pt")))
    before = digest(target)
    code = represent.main(["--model", path, "--data", tiny["bin"], "--method", "pca", "--out", target, "--force"])
    refused(capsys, code, f"--out {target}:", "an input of this command")
    unchanged(target, before)


@pytest.mark.parametrize("model", ["checkpoint", "model_dir"])
def test_retrieval_json_onto_the_model_it_reads(tiny, run, tmp_path, capsys, model):
    path, target = ((run["checkpoint"], run["checkpoint"]) if model == "checkpoint" else
                    (tiny["model"], os.path.join(tiny["model"], "model.pt")))
    tsv = tmp_path / "en-de.tsv"
    tsv.write_text("a b\tc d\n")
    before = digest(target)
    code = retrieval.main(["--model", f"m={path}", "--parallel", str(tsv), "--layer", "1", "--json", target,
                           "--force"])
    refused(capsys, code, f"--json {target}:", "an input of this command")
    unchanged(target, before)


# --- folder outputs holding the user's files ------------------------------------------------------------

def test_make_tiny_model_data_out_onto_the_users_data(tmp_path, capsys):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "train.tsv").write_text("id\tlang\tsentence\tlabel\n1\ten\tmy own data\tpos\n")
    before = digest(users / "train.tsv")
    code = make_tiny_model.main(["--out", str(tmp_path / "m"), "--data-out", str(users)])
    refused(capsys, code, f"--data-out {users}:", "--force")
    unchanged(users / "train.tsv", before)
    assert not (tmp_path / "m").exists()


def test_pipeline_out_onto_a_folder_with_the_users_results(tiny, tmp_path, capsys):
    out = tmp_path / "paper"
    out.mkdir()
    (out / "results.md").write_text("| my table |\n")
    before = digest(out / "results.md")
    code = pipeline.main([str(a) for a in pipeline_args(tiny, out)])
    refused(capsys, code, f"--out {out}:", "xtune-run.json", "--force")
    unchanged(out / "results.md", before)
    assert os.listdir(out) == ["results.md"]


def test_preprocess_rerun_keeps_a_file_added_under_meta(tiny, tmp_path, capsys):
    dest = tmp_path / "bin"
    shutil.copytree(tiny["bin"], dest)  # a data directory xtune-preprocess wrote
    args = ["--model-dir", tiny["model"], "--train", tiny["train"], "--valid", tiny["valid"], "--test", tiny["test"],
            "--dest", str(dest)]
    assert preprocess.main(args) == 0  # its own previous output: replaced
    (dest / "meta" / "notes.txt").write_text("mine\n")
    before = digest(dest / "meta" / "notes.txt")
    code = preprocess.main(args)
    refused(capsys, code, f"--out {dest}:", "meta/notes.txt", "did not write", "--force")
    unchanged(dest / "meta" / "notes.txt", before)


# --- the same command's own previous output is replaced; anyone else's file needs --force ----------------

def test_evaluate_replaces_its_own_outputs_only(tiny, run, tmp_path, capsys):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["--checkpoint", f"mine={run['checkpoint']}", "--data", tiny["bin"], "--split", "valid",
            "--json", str(out_json), "--markdown", str(out_md)]
    assert evaluate.main(args) == 0
    assert evaluate.main(args) == 0  # a rerun onto its own previous output
    assert (tmp_path / ".r.json.xtune").is_file() and "| mine |" in out_md.read_text()
    out_md.write_text(out_md.read_text() + "my notes\n")  # edited since: the user's now
    before = digest(out_md)
    refused(capsys, evaluate.main(args), f"--markdown {out_md}:", "changed since xtune-evaluate wrote it", "--force")
    unchanged(out_md, before)
    mine = tmp_path / "paper.json"
    mine.write_text("{}\n")
    refused(capsys, evaluate.main(args[:-4] + ["--json", str(mine)]), f"--json {mine}:", "did not write it")
    assert mine.read_text() == "{}\n"
    assert evaluate.main(args + ["--force"]) == 0 and "my notes" not in out_md.read_text()


def test_teacher_cache_rerun_and_another_commands_file(tiny, run, tmp_path, capsys):
    out = tmp_path / "cache.pt"
    args = ["--teacher", run["checkpoint"], "--data", tiny["bin"], "--out", str(out)]
    assert teacher_cache.main(args) == 0 and teacher_cache.main(args) == 0
    table = tmp_path / "table.md"  # xtune-evaluate's output, not the teacher cache's
    assert evaluate.main(["--checkpoint", run["checkpoint"], "--data", tiny["bin"], "--split", "valid",
                          "--markdown", str(table)]) == 0
    before = digest(table)
    refused(capsys, teacher_cache.main(args[:-1] + [str(table)]), f"--out {table}:",
            "written by xtune-evaluate, not xtune-teacher-cache")
    unchanged(table, before)


def test_represent_rerun(tiny, tmp_path, capsys):
    out = tmp_path / "pca.png"
    args = ["--model", tiny["model"], "--data", tiny["bin"], "--per-lang", "10", "--method", "pca", "--out", str(out)]
    assert represent.main(args) == 0 and represent.main(args) == 0
    out.write_bytes(b"my picture")
    refused(capsys, represent.main(args), f"--out {out}:", "changed since xtune-represent wrote it")
    assert out.read_bytes() == b"my picture"


def test_make_tiny_model_rerun_and_an_added_file(tmp_path, capsys):
    args = ["--out", str(tmp_path / "m"), "--data-out", str(tmp_path / "d"), "--vocab-size", "200"]
    assert make_tiny_model.main(args) == 0
    assert make_tiny_model.main(args) == 0  # both folders its own: replaced
    (tmp_path / "d" / "notes.txt").write_text("mine\n")
    refused(capsys, make_tiny_model.main(args), f"--data-out {tmp_path / 'd'}:", "notes.txt", "--force")
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine\n"


def test_pipeline_rerun_onto_its_own_run_folder(tiny, run, capsys):
    out = run["out"]
    assert (out / "xtune-run.json").is_file()
    proc = run_cli("xtune_fairseq.cli.pipeline", *pipeline_args(tiny, out))
    assert proc.returncode == 0 and "already finished" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    (out / "thesis.tex").write_text("mine\n")
    try:
        code = pipeline.main([str(a) for a in pipeline_args(tiny, out)])
        refused(capsys, code, f"--out {out}:", "thesis.tex", "--force")
    finally:
        (out / "thesis.tex").unlink()


def test_results_replaces_only_its_own_previous_tables(tmp_path, capsys):
    """xtune-results --out STEM: a rerun replaces its own tables; a user's STEM.md it did not write is
    refused (its bytes unchanged) unless --force."""
    import json

    from xtune_fairseq.cli import results

    run_file = tmp_path / "results.json"
    run_file.write_text(json.dumps({"a": {"per_language": {"en": 80.0, "de": 70.0}, "average": 75.0,
                                              "transfer_gap": 10.0, "source_language": "en"}}))
    argv = ["--run", f"a={run_file}", "--out", str(tmp_path / "table")]
    assert results.main(argv) == 0 and results.main(argv) == 0  # its own output, unchanged: replaced
    capsys.readouterr()
    mine = tmp_path / "mine.md"
    mine.write_text("my notes\n")
    before = digest(mine)
    refused(capsys, results.main(["--run", f"a={run_file}", "--out", str(tmp_path / "mine")]), "--out",
            str(mine), "did not write it", "--force")
    unchanged(mine, before)
    assert results.main(["--run", f"a={run_file}", "--out", str(tmp_path / "mine"), "--force"]) == 0


def test_evaluate_answers_never_replace_a_users_file(tiny, run, tmp_path, capsys):
    """--predictions-dir: a NAME.LANG.json there that xtune-evaluate did not write is refused before scoring."""
    answers = tmp_path / "answers"
    answers.mkdir()
    mine = answers / "base.en.json"
    mine.write_text('{"q1": "my answer"}\n')
    before = digest(mine)
    code = evaluate.main(["--checkpoint", f"base={run['checkpoint']}", "--data", tiny["bin"],
                          "--predictions-dir", str(answers)])
    refused(capsys, code, "--predictions-dir", str(mine), "did not write it")
    unchanged(mine, before)


def test_benchmark_reports_replace_only_their_own(tmp_path, capsys):
    """A benchmark's --json: its own previous report is replaced, a user's file is refused unless --force."""
    from xtune_fairseq.bench import translations

    argv = ["--ids", "20", "--per-id", "2", "--holders", "dict", "--work", str(tmp_path / "work")]
    report = tmp_path / "report.json"
    assert translations.main(argv + ["--json", str(report)]) == 0
    assert translations.main(argv + ["--json", str(report)]) == 0  # its own, unchanged: replaced
    capsys.readouterr()
    mine = tmp_path / "notes.json"
    mine.write_text("{}\n")
    refused(capsys, translations.main(argv + ["--json", str(mine)]), "--json", str(mine), "did not write it")
    assert mine.read_text() == "{}\n"
    assert translations.main(argv + ["--json", str(mine), "--force"]) == 0
