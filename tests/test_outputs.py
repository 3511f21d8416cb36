"""Commands that write a folder replace only what they wrote themselves: never an input of the same
command, the current folder, a file, or someone else's non-empty folder (that one with --force);
interrupted runs leave no temporary folders, and Ctrl-C ends a CLI with one line and exit 130."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from xtune_fairseq.cli import convert, preprocess
from xtune_fairseq.cli.common import run_cli

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "qa")


@pytest.fixture
def project(tiny, tmp_path):
    """A user's project folder: a copy of the tiny model and the inputs of each kind."""
    proj = tmp_path / "proj"
    shutil.copytree(tiny["model"], proj / "model")
    shutil.copy(tiny["train"], proj / "train.tsv")
    (proj / "train-en.conll").write_text("The\tDET\ncat\tNOUN\n\nA\tDET\ndog\tNOUN\n", encoding="utf-8")
    shutil.copy(os.path.join(FIXTURES, "en.json"), proj / "en.json")
    (proj / "corpus.txt").write_text("the cat sits\n", encoding="utf-8")
    return proj


def inputs_of(proj, kind):
    train = {"classification": proj / "train.tsv", "tagging": f"en:{proj / 'train-en.conll'}",
             "qa": f"en:{proj / 'en.json'}"}[kind]
    return ["--kind", kind, "--model-dir", str(proj / "model"), "--train", str(train)]


def snapshot(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def refused(capsys, code, *words):
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize("kind", ["classification", "tagging", "qa"])
def test_preprocess_never_replaces_its_inputs(project, kind, capsys):
    before = snapshot(project)
    for dest in (project, project / "model", project / "model" / "sub"):
        for force in ([], ["--force"]):
            code = preprocess.main(inputs_of(project, kind) + ["--dest", str(dest)] + force)
            refused(capsys, code, str(dest), "an input of this command", "--out")
    assert snapshot(project) == before


def test_trim_out_dot_leaves_the_current_folder_alone(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    before = snapshot(project)
    for force in ([], ["--force"]):
        code = convert.main(["trim", "--model-dir", "model", "--corpus", "corpus.txt", "--out", "."] + force)
        refused(capsys, code, "--out .: is the current folder", "--out")
    code = convert.main(["trim", "--model-dir", "model", "--corpus", "corpus.txt", "--out", "model", "--force"])
    refused(capsys, code, "--out model:", "an input of this command")
    assert snapshot(project) == before


def test_existing_file_is_never_a_destination(project, capsys):
    target = project / "notes.txt"
    target.write_text("mine\n")
    for force in ([], ["--force"]):
        code = preprocess.main(inputs_of(project, "tagging") + ["--dest", str(target)] + force)
        refused(capsys, code, f"--out {target}: ", "is a file")
        code = convert.main(["trim", "--model-dir", str(project / "model"), "--corpus", str(project / "corpus.txt"),
                             "--out", str(target)] + force)
        refused(capsys, code, f"--out {target}: ", "is a file")
    assert target.read_text() == "mine\n"
    assert not [p for p in os.listdir(project) if p.startswith(".")]


def test_someone_elses_folder_needs_force(project, tmp_path, capsys):
    for name in ("data", "trimmed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "thesis.tex").write_text("mine\n")
    code = preprocess.main(inputs_of(project, "tagging") + ["--dest", str(tmp_path / "data")])
    refused(capsys, code, str(tmp_path / "data"), "--force", "--out")
    trim = ["trim", "--model-dir", str(project / "model"), "--corpus", str(project / "corpus.txt"),
            "--out", str(tmp_path / "trimmed")]
    refused(capsys, convert.main(trim), str(tmp_path / "trimmed"), "--force", "--out")
    assert (tmp_path / "data" / "thesis.tex").is_file() and (tmp_path / "trimmed" / "thesis.tex").is_file()

    assert preprocess.main(inputs_of(project, "tagging") + ["--dest", str(tmp_path / "data"), "--force"]) == 0
    assert convert.main(trim + ["--force"]) == 0
    assert (tmp_path / "data" / "xtune.json").is_file() and not (tmp_path / "data" / "thesis.tex").exists()
    assert (tmp_path / "trimmed" / "model.pt").is_file() and not (tmp_path / "trimmed" / "thesis.tex").exists()


def test_own_previous_output_is_replaced_but_not_what_was_added_to_it(project, tmp_path, capsys):
    dest, out = tmp_path / "data", tmp_path / "trimmed"
    args = inputs_of(project, "tagging") + ["--dest", str(dest)]
    trim = ["trim", "--model-dir", str(project / "model"), "--corpus", str(project / "corpus.txt"), "--out", str(out)]
    for _ in range(2):
        assert preprocess.main(args) == 0 and convert.main(trim) == 0
    assert json.loads((dest / "xtune.json").read_text())["kind"] == "tagging"
    assert (out / "xtune-model.json").is_file()
    (dest / "teacher.pt").write_text("user's\n")
    refused(capsys, preprocess.main(args), "teacher.pt", "--force")
    assert (dest / "teacher.pt").is_file()
    (out / "notes.txt").write_text("user's\n")
    refused(capsys, convert.main(trim), "notes.txt", "--force")
    assert (out / "notes.txt").is_file()
    published = tmp_path / "published"  # a complete model directory, but not one we wrote
    shutil.copytree(project / "model", published)
    (published / "xtune-model.json").unlink(missing_ok=True)
    refused(capsys, convert.main(trim[:-1] + [str(published)]), "xtune-model.json", "--force")
    assert (published / "model.pt").is_file()


def test_stale_temporary_folders_of_dead_runs_are_removed(project, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    stale = [tmp_path / f".tmp-xtune-data-{dead.pid}-{host}-abc", tmp_path / f".tmp-xtune-model-{dead.pid}-{host}-x_1"]
    live = tmp_path / f".tmp-xtune-data-{os.getpid()}-{host}-abc"
    for d in stale + [live]:
        d.mkdir()
        (d / "half.bin").write_text("x")
    assert preprocess.main(inputs_of(project, "tagging") + ["--dest", str(tmp_path / "data")]) == 0
    assert not any(d.exists() for d in stale) and live.exists()


def test_ctrl_c_is_one_line_and_exit_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    assert run_cli(interrupted) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_preprocess_leaves_nothing(tiny, tmp_path, sig):
    dest = tmp_path / "bin"
    argv = [sys.executable, "-m", "xtune_fairseq.cli.preprocess", "--model-dir", tiny["model"], "--train",
            tiny["train"], "--valid", tiny["valid"], "--test", tiny["test"], "--dest", str(dest)]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not any(p.name.startswith(".tmp-xtune-data-") for p in tmp_path.iterdir()) and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "interrupted\n", (proc.returncode, err[-2000:])
    assert os.listdir(tmp_path) == []


def test_named_output_files_are_not_inputs(tmp_path, capsys):
    from xtune_fairseq.cli import evaluate, results, teacher_cache

    ck = tmp_path / "checkpoint_best.pt"
    ck.write_bytes(b"weights")
    (tmp_path / "data").mkdir()
    code = teacher_cache.main(["--teacher", str(ck), "--data", str(tmp_path / "data"), "--out", str(ck)])
    refused(capsys, code, f"--out {ck}: is an input of this command")
    code = evaluate.main(["--checkpoint", f"mine={ck}", "--data", str(tmp_path / "data"), "--json", str(ck)])
    refused(capsys, code, f"--json {ck}: is an input of this command")
    assert ck.read_bytes() == b"weights"
    run = tmp_path / "results.json"
    run.write_text(json.dumps({"a": {"per_language": {"en": 1.0}, "average": 1.0, "transfer_gap": 0.0,
                                     "source_language": "en"}}))
    code = results.main(["--run", f"a={run}", "--out", str(tmp_path / "results")])
    refused(capsys, code, f"--out {tmp_path / 'results'}", "is an input of this command")
    code = teacher_cache.main(["--teacher", str(ck), "--data", str(tmp_path / "data"), "--out", str(tmp_path)])
    refused(capsys, code, "is a folder")


def test_interrupted_pipeline_stops_its_training_process(tmp_path, monkeypatch):
    """SIGTERM to xtune-pipeline alone (not its process group) must not leave fairseq-train running."""
    import threading
    from types import SimpleNamespace

    from xtune_fairseq.pipeline import run as pipeline

    children = []
    real_popen = subprocess.Popen

    def popen(cmd, **kwargs):
        children.append(real_popen(cmd, **kwargs))
        return children[-1]

    sleeper = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(120)"]
    monkeypatch.setattr(pipeline, "train_command", lambda *a: sleeper)
    monkeypatch.setattr(pipeline.subprocess, "Popen", popen)
    # a real signal: it interrupts the wait for the child (_thread.interrupt_main would only be seen
    # once the child had ended by itself); KeyboardInterrupt is what run_cli makes of SIGTERM too
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    data = tmp_path / "data"  # the stage's record reads the data's xtune.json (pipeline/reuse.py)
    data.mkdir()
    (data / "xtune.json").write_text("{}")
    a = SimpleNamespace(out=str(tmp_path / "run"), data=str(data), stage1_epochs=None, epochs=1,
                        binarized_views_epochs=0)
    start = time.time()
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_stage(a, 1, 10)
    assert time.time() - start < 60  # the sleeper sleeps 120 s
    assert children and children[0].poll() is not None and children[0].returncode < 0  # stopped, not orphaned
