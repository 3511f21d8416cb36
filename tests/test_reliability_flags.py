"""Issue #26, point 4 (flags and model files): a flag value or a model file a command cannot use ends
in ONE line `error: ...` naming the flag or the file and what was expected, never a traceback; in the
CLIs (exit 2), in fairseq-train with our task (register.py's excepthook) and in fairseq-hydra-train
(whose job runner printed its own traceback: train_checks.install_hydra_one_line)."""

import importlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import USER_DIR, fairseq_train, make_task, train_args
from xtune_fairseq.core.errors import InputError

SEED = "99999999999"  # above 2**32 - 1: numpy's seeding refused it with a traceback


def cli(module, argv, capsys):
    """Runs xtune_fairseq.cli.MODULE's main(argv) as its console script does: the one stderr line."""
    code = importlib.import_module(f"xtune_fairseq.cli.{module}").main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


def one_line(out):
    """The `error:` line ending a training command's output; fairseq's log lines may come before it."""
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in out and len(errors) == 1, out[-3000:]
    assert out.strip().splitlines()[-1] == errors[0], out[-3000:]
    return errors[0]


def trained(tiny, tmp_path, *flags, save_dir=None):
    code, out = fairseq_train(train_args(tiny, save_dir or tmp_path / "ck", *flags), check=False)
    assert code != 0
    return one_line(out)


# --- 1. --seed beyond what numpy seeds ----------------------------------------------------------------

@pytest.mark.parametrize("command", ["xtune-pipeline", "fairseq-train"])
def test_seed_out_of_range(tiny, tmp_path, capsys, command):
    want = f"error: --seed {SEED}: expected a number in [0, 4294967295]"
    if command == "xtune-pipeline":
        assert cli("pipeline", ["--model-dir", "m", "--data", "d", "--out", tmp_path / "o", "--seed", SEED],
                   capsys) == want
    else:
        assert trained(tiny, tmp_path, "--seed", SEED) == want
        assert not (tmp_path / "ck").exists()  # refused before fairseq made the save dir


# --- 2. --stages ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--stages", "--eval-stages"])
def test_pipeline_stages_junk(tmp_path, capsys, flag):
    err = cli("pipeline", ["--model-dir", "m", "--data", "d", "--out", tmp_path / "o", flag, "junk"], capsys)
    assert err == f"error: {flag} junk: expected 1, 2 or 1,2 (the stages, comma-separated)"


# --- 3. --adam-betas: fairseq eval()s it ------------------------------------------------------------------

BETAS = "error: --adam-betas {}: expected a tuple of two numbers in [0, 1), e.g. (0.9,0.999)"


@pytest.mark.parametrize("command,betas", [
    ("xtune-pipeline", "junk"), ("xtune-pipeline", "(0.9,1.0)"), ("xtune-pipeline", "__import__('os')"),
    ("fairseq-train", "junk"), ("task setup", "(0.9,)"),
])
def test_adam_betas_junk(tiny, tmp_path, capsys, command, betas):
    if command == "xtune-pipeline":
        argv = ["--model-dir", "m", "--data", "d", "--out", tmp_path / "o", "--adam-betas", betas]
        assert cli("pipeline", argv, capsys) == BETAS.format(betas)
    elif command == "fairseq-train":
        assert trained(tiny, tmp_path, "--adam-betas", betas) == BETAS.format(betas)
    else:  # fairseq-hydra-train's path: the task's setup reads the whole configuration, before the optimizer
        with pytest.raises(InputError) as err:
            make_task(tiny, "--adam-betas", betas)
        assert f"error: {err.value}" == BETAS.format(betas)


def test_good_betas_pass(tiny):
    from xtune_fairseq.core.flag_ranges import check_betas

    assert check_betas("(0.9,0.98)") == (0.9, 0.98) and check_betas([0, 0.5]) == (0.0, 0.5)
    make_task(tiny, "--adam-betas", "[0.9, 0.999]")


# --- 4. --fairseq-args with an unclosed quote -----------------------------------------------------------

def test_fairseq_args_unclosed_quote(tmp_path, capsys):
    err = cli("pipeline", ["--model-dir", "m", "--data", "d", "--out", tmp_path / "o",
                           "--fairseq-args", "--wandb-project 'xtune"], capsys)
    assert err == ("error: --fairseq-args \"--wandb-project 'xtune\": No closing quotation; expected fairseq-train "
                   "flags as a shell would split them")


# --- 5. xtune-make-tiny-model: a vocabulary sentencepiece refuses, heads that do not divide the dim ---------

@pytest.mark.parametrize("flags,want", [
    (["--vocab-size", "70"], "error: --vocab-size 70: sentencepiece cannot train on {corpus}: Vocabulary size too "
                             "high (70). Please set it to a value <= "),
    (["--dim", "16", "--heads", "3"], "error: --dim 16 is not divisible by --heads 3: each attention head gets "
                                      "dim / heads dimensions"),
])
def test_make_tiny_model_shapes(tmp_path, capsys, flags, want):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sits on the mat\nDie Katze sitzt auf der Matte\n" * 5, encoding="utf-8")
    err = cli("make_tiny_model", ["--out", tmp_path / "model", "--corpus", corpus, *flags], capsys)
    assert err.startswith(want.format(corpus=corpus)), err
    assert not (tmp_path / "model").exists()


# --- 6. xtune-demo --seeds ------------------------------------------------------------------------------

@pytest.mark.parametrize("seeds,want", [
    ("1,x", "error: --seeds 1,x: expected comma-separated integer seeds, e.g. 1,2,3"),
    (f"1,{SEED}", f"error: --seeds 1,{SEED}: seed {SEED}: expected a number in [0, 4294967295]"),
])
def test_demo_seeds(tmp_path, capsys, monkeypatch, seeds, want):
    monkeypatch.chdir(tmp_path)  # nothing may land in the repository if the check were missing
    assert cli("demo", ["--preset", "tiny", "--seeds", seeds], capsys) == want
    assert os.listdir(tmp_path) == []


# --- 7. xtune-convert hf: model files that are not what they are named ----------------------------------

@pytest.mark.parametrize("broken", ["model.safetensors", "config.json"])
def test_convert_hf_broken_files(spm_model, tmp_path, capsys, broken):
    from test_convert import hf_tiny_dir

    hf_dir, _ = hf_tiny_dir(tmp_path, spm_model["model"])
    path = os.path.join(hf_dir, broken)
    with open(path, "wb") as f:
        f.write(b"<html>404 Not Found</html>\n")  # what a failed download leaves
    err = cli("convert", ["hf", "--hf-dir", hf_dir, "--out", tmp_path / "out"], capsys)
    want = {"model.safetensors": f"error: {path}: not a readable safetensors file (Error while deserializing "
                                 "header: ",
            "config.json": f"error: {path}:1:1: not JSON (Expecting value); expected a HuggingFace config"}[broken]
    assert err.startswith(want), err
    assert not (tmp_path / "out").exists()


# --- 8. a pickled .npy in a binarized-views folder --------------------------------------------------------

@pytest.fixture(scope="module")
def pickled_views(tiny, tmp_path_factory):
    """A copy of the tiny data with MT views of one epoch, its translation choices replaced by a pickle."""
    from xtune_fairseq.prepare import write_binarized_views

    root = tmp_path_factory.mktemp("pickled-views")
    data = {**tiny, "bin": str(root / "bin"), "root": root}
    shutil.copytree(tiny["bin"], data["bin"])
    folder = write_binarized_views(data["bin"], "v", 1, ["--seed", "3", "--r1-augmentation", "mt"])
    path = os.path.join(folder, "epoch1", "partner.translation.npy")
    assert os.path.isfile(path)
    np.save(path, np.array([{"not": "an index"}, print], dtype=object), allow_pickle=True)
    return data, path


def test_pickled_npy_in_binarized_views(pickled_views, tmp_path):
    data, path = pickled_views
    err = trained(data, tmp_path, "--r1-augmentation", "mt", "--binarized-views", "v", "--max-update", "1")
    assert err == (f"error: {path}: refused to load: it holds pickled Python objects, which are never loaded (they "
                   "can run code); expected a numpy array of integers written by xtune-preprocess views (rewrite the "
                   "folder with it)")
    assert not (tmp_path / "ck" / "checkpoint_last.pt").exists()


# --- 9. fairseq-hydra-train with a checkpoint the allow-list refuses ------------------------------------

class Payload:
    def __reduce__(self):
        return print, ("payload ran",)


def test_hydra_restore_file_refused_is_one_line(tiny, tmp_path):
    from test_hydra_configs import HYDRA_DIR

    refused = tmp_path / "REFUSED.pt"
    torch.save({"model": {}, "extra": Payload()}, str(refused))
    cmd = [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", HYDRA_DIR, "--config-name",
           "baseline_stage1", f"common.user_dir={USER_DIR}", f"task.data={tiny['bin']}",
           f"model.pretrained_dir={tiny['model']}", f"checkpoint.save_dir={tmp_path / 'ck'}",
           "lr_scheduler.total_num_update=4", "optimization.max_update=1", "common.cpu=true",
           f"checkpoint.restore_file={refused}"]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    err = one_line(out)
    assert err.startswith(f"error: {refused}: refused to load: it holds objects outside the allow-list"), err
    assert "payload ran" not in out and "HYDRA_FULL_ERROR" not in out


# --- 10. an output flag naming an existing path of the wrong kind --------------------------------------

def wrong_kind_cases():
    """(command, argv, expected start of the error); FILE is an existing file, DIR an existing folder."""
    return [
        ("evaluate", ["--checkpoint", "x.pt", "--data", "DIR", "--json", "DIR"], "--json DIR: is a folder"),
        ("evaluate", ["--checkpoint", "x.pt", "--data", "DIR", "--predictions-dir", "FILE"],
         "--predictions-dir FILE: is a file, not a folder"),
        ("teacher_cache", ["--teacher", "x.pt", "--data", "DIR", "--out", "DIR"], "--out DIR: is a folder"),
        ("represent", ["--model", "m", "--data", "DIR", "--out", "DIR"], "--out DIR: is a folder"),
        ("retrieval", ["--model", "m", "--parallel", "en-de.tsv", "--json", "DIR"], "--json DIR: is a folder"),
        ("results", ["--run", "a=r.json", "--out", "DIR/x"], "--out DIR/x.json: is a folder"),
        ("results", ["--run", "a=r.json", "--out", "FILE/x"], "--out FILE/x: FILE is a file, not a folder"),
        ("pipeline", ["--model-dir", "m", "--data", "d", "--out", "FILE"], "--out FILE: is a file, not a folder"),
        ("make_tiny_model", ["--out", "FILE"], "--out FILE: is a file or a link"),
        ("make_tiny_model", ["--out", "DIR/model", "--data-out", "FILE"], "--data-out FILE: is a file, not a folder"),
        ("convert", ["hf", "--hf-dir", "DIR", "--out", "FILE"], "--out FILE: is a file or a link"),
        ("fairseq-train", ["--save-dir", "FILE"], "--save-dir FILE: is a file, not a folder"),
    ]


@pytest.mark.parametrize("command,argv,want", wrong_kind_cases(), ids=lambda x: x if isinstance(x, str) else None)
def test_output_of_the_wrong_kind(tiny, tmp_path, capsys, monkeypatch, command, argv, want):
    monkeypatch.chdir(tmp_path)
    path = {"FILE": str(tmp_path / "notes.txt"), "DIR": str(tmp_path / "folder")}
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "x.json").mkdir()  # results' STEM.json
    (tmp_path / "en-de.tsv").write_text("the cat\tdie Katze\n")
    (tmp_path / "r.json").write_text('{"a": {"per_language": {"en": 1.0}, "average": 1.0, "transfer_gap": 0.0, '
                                      '"source_language": "en"}}')

    def real(s):
        for key, value in path.items():
            s = s.replace(key, value)
        return s

    if command == "fairseq-train":
        err = trained(tiny, tmp_path, save_dir=path["FILE"])
    else:
        err = cli(command, [real(a) for a in argv], capsys)
    assert err.startswith("error: " + real(want)), err
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert sorted(os.listdir(tmp_path)) == ["en-de.tsv", "folder", "notes.txt", "r.json"]
    assert os.listdir(tmp_path / "folder") == ["x.json"]
