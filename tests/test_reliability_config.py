"""Checkpoint configurations that would run code (issue #26, point 1).

A checkpoint holding only allow-listed types can still run code through its configuration: fairseq's
fconv architecture eval()s its layer list. Each path that builds a model or a task from a file is
given such a planted file; the test asserts that the planted expression never ran (its marker file
is absent) and that the one-line error names the file and the field. The first test shows that the
planted file is a real exploit when fairseq reads it unchecked."""

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, USER_DIR, fairseq_train, train_args
from xtune_fairseq.fairseq_wiring.checkpoints import install_allowlist
from xtune_fairseq.core.checkpoint_config import EVALUATED_FIELDS, check_checkpoint_config
from xtune_fairseq.core.errors import InputError


@pytest.fixture(scope="module")
def finetuned(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("finetuned")
    fairseq_train(train_args(tiny, root / "ck", "--max-update", "2"))
    return str(root / "ck" / "checkpoint_last.pt")


def expression(marker) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('ran') and [(8, 3)]"


def raw(path):
    """The file as stored, unchecked (only the unpickling allow-list)."""
    install_allowlist()
    return torch.load(path, map_location="cpu", weights_only=True)


def plant(src, dst, marker, how="fconv"):
    """A copy of the checkpoint src whose configuration runs `expression(marker)` when fairseq builds
    from it; how: fconv (cfg.model), legacy (args), betas (cfg.optimizer), resolver, task, arch."""
    state = copy.deepcopy(raw(src))
    cfg = state["cfg"]
    if how == "fconv":
        _set(cfg["model"], "_name", "fconv")
        _set(cfg["model"], "arch", "fconv")
        _set(cfg["model"], "encoder_layers", expression(marker))
    elif how == "legacy":
        model = cfg["model"]
        items = dict(vars(model)) if isinstance(model, argparse.Namespace) else dict(model)
        items.update(arch="fconv", encoder_layers=expression(marker), _name="fconv")
        state["args"], state["cfg"] = argparse.Namespace(**items), None
    elif how == "betas":
        cfg["optimizer"]["adam_betas"] = expression(marker)
    elif how == "resolver":
        cfg["task"]["data"] = "${oc.env:HOME}"
    elif how == "task":
        cfg["task"]["_name"] = "translation"
    elif how == "arch":
        _set(cfg["model"], "_name", "lstm")
        _set(cfg["model"], "arch", "lstm")
    torch.save(state, str(dst))
    return str(dst)


def _set(section, key, value):
    if isinstance(section, argparse.Namespace):
        setattr(section, key, value)
    else:
        section[key] = value


def one_line_error(out):
    lines = [line for line in out.splitlines() if line.startswith("error: ")]
    assert lines and "Traceback" not in out, out[-3000:]
    return lines[-1]


def test_the_planted_file_runs_code_when_fairseq_builds_it_unchecked(tiny, finetuned, tmp_path):
    """The control: fairseq's own build from the planted configuration runs the expression."""
    from fairseq import models
    from omegaconf import OmegaConf

    from conftest import make_task

    marker = tmp_path / "ran"
    state = raw(plant(finetuned, tmp_path / "evil.pt", marker))
    task, _ = make_task(tiny)
    cfg = OmegaConf.create(state["cfg"], flags={"allow_objects": True})
    with pytest.raises(Exception):  # the expression returns a layer list fconv cannot use with this config
        models.build_model(cfg.model, task)
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("how,field", [
    ("fconv", r"cfg\.model\.encoder_layers = .* is not a Python literal"),
    ("legacy", r"args\.encoder_layers = .* is not a Python literal"),
    ("betas", r"cfg\.optimizer\.adam_betas = .* is not a Python literal"),
    ("resolver", r"cfg\.task\.data holds an OmegaConf resolver call"),
    ("task", r"cfg\.task\._name = 'translation' is not a task this project reads"),
    ("arch", r"cfg\.model\._name = 'lstm' is not an architecture this project reads"),
])
def test_each_door_is_refused_by_every_reader(finetuned, tmp_path, how, field):
    from fairseq import checkpoint_utils

    from xtune_fairseq.fairseq_wiring.install import install

    install()  # what --user-dir user_dir does: the allow-list, fairseq's reader checked
    from xtune_fairseq.fairseq_wiring.checkpoints import load_fairseq_checkpoint, safe_load

    marker = tmp_path / "ran"
    path = plant(finetuned, tmp_path / "evil.pt", marker, how)
    for read in (safe_load, load_fairseq_checkpoint, checkpoint_utils.load_checkpoint_to_cpu):
        with pytest.raises(InputError, match=f"^{path}: {field}"):
            read(path)
    with pytest.raises(InputError, match=field):
        checkpoint_utils.load_model_ensemble_and_task([path])
    assert not marker.exists()


def test_real_checkpoints_pass(tiny, finetuned):
    check_checkpoint_config(raw(finetuned), finetuned)
    check_checkpoint_config(raw(os.path.join(tiny["model"], "model.pt")), "model.pt")


def test_literals_in_evaluated_fields_pass():
    check_checkpoint_config({"cfg": {"optimizer": {"adam_betas": "(0.9, 0.98)"},
                                     "model": {"_name": "roberta_base", "encoder_layers": 12},
                                     "task": {"_name": "masked_lm", "data": "${model.max_positions}"}}}, "x.pt")


def test_every_field_fairseq_evaluates_is_listed():
    """Reads fairseq's source: every attribute passed to eval() / eval_str_list / eval_str_dict /
    eval_bool is in EVALUATED_FIELDS (a new fairseq with a new one fails here)."""
    import fairseq

    root = os.path.dirname(fairseq.__file__)
    found = set()
    for folder, _, files in os.walk(root):
        if os.sep + "examples" in folder or os.sep + "tests" in folder:
            continue
        for name in files:
            if name.endswith(".py"):
                tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call) and _called(node) in {"eval", "eval_str_list", "eval_str_dict",
                                                                       "eval_bool"} and node.args:
                        arg = node.args[0]
                        if isinstance(arg, ast.Attribute):
                            found.add(arg.attr)
                        elif isinstance(arg, ast.Call) and _called(arg) == "getattr" and len(arg.args) > 1 \
                                and isinstance(arg.args[1], ast.Constant):
                            found.add(arg.args[1].value)
    assert {"adam_betas", "encoder_layers"} <= found  # the reading works
    assert found <= EVALUATED_FIELDS, sorted(found - EVALUATED_FIELDS)


def _called(node):
    f = node.func
    return f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)


# --- every path that reads a checkpoint, as the user runs it ------------------------------------

def run(module, *args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", module, *[str(a) for a in args]], capture_output=True, text=True,
                          cwd=cwd, env=dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1"))
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def planted(finetuned, tmp_path):
    marker = tmp_path / "ran"
    return plant(finetuned, tmp_path / "evil.pt", marker), marker


@pytest.fixture
def planted_model_dir(tiny, tmp_path):
    """A pretrained model directory whose model.pt builds fconv."""
    marker = tmp_path / "ran"
    model = tmp_path / "model"
    shutil.copytree(tiny["model"], model)
    state = raw(os.path.join(tiny["model"], "model.pt"))
    _set(state["cfg"]["model"], "_name", "fconv")
    _set(state["cfg"]["model"], "arch", "fconv")
    _set(state["cfg"]["model"], "encoder_layers", expression(marker))
    torch.save(state, str(model / "model.pt"))
    return str(model), marker


FIELD = "cfg.model.encoder_layers"


@pytest.mark.parametrize("module,flags", [
    ("xtune_fairseq.cli.evaluate", ["--checkpoint", "{ck}", "--data", "{data}"]),
    ("xtune_fairseq.cli.teacher_cache", ["--teacher", "{ck}", "--data", "{data}", "--out", "{tmp}/cache.pt"]),
    ("xtune_fairseq.cli.represent", ["--model", "{ck}", "--data", "{data}", "--out", "{tmp}/r.png"]),
    ("xtune_fairseq.cli.retrieval", ["--model", "m={ck}", "--data", "{data}", "--src", "{tmp}/s.txt",
                                     "--tgt", "{tmp}/s.txt"]),
    ("xtune_fairseq.cli.convert", ["to-hf", "{ck}", "--data", "{data}", "--out", "{tmp}/hf"]),
])
def test_commands_refuse_a_planted_checkpoint(tiny, planted, tmp_path, module, flags):
    path, marker = planted
    (tmp_path / "s.txt").write_text("a b c\n")
    values = {"ck": path, "data": tiny["bin"], "tmp": tmp_path}
    code, out = run(module, *[f.format(**values) for f in flags])
    assert code != 0 and f"{path}: {FIELD}" in one_line_error(out)
    assert not marker.exists()


@pytest.mark.parametrize("module,flags", [
    ("xtune_fairseq.cli.represent", ["--model", "{model}", "--data", "{data}", "--out", "{tmp}/r.png"]),
    ("xtune_fairseq.cli.retrieval", ["--model", "m={model}", "--src", "{tmp}/s.txt", "--tgt", "{tmp}/s.txt"]),
    ("xtune_fairseq.cli.convert", ["trim", "--model-dir", "{model}", "--corpus", "{tmp}/s.txt", "--out", "{tmp}/t"]),
])
def test_commands_refuse_a_planted_model_dir(tiny, planted_model_dir, tmp_path, module, flags):
    model, marker = planted_model_dir
    (tmp_path / "s.txt").write_text("a b c\n")
    values = {"model": model, "data": tiny["bin"], "tmp": tmp_path}
    code, out = run(module, *[f.format(**values) for f in flags])
    assert code != 0 and f"{model}/model.pt: {FIELD}" in one_line_error(out)
    assert not marker.exists() and not (tmp_path / "t").exists()


@pytest.mark.parametrize("flag", ["--teacher-path", "--restore-file", "--finetune-from-model"])
def test_fairseq_train_refuses_a_planted_checkpoint(tiny, planted, tmp_path, flag):
    path, marker = planted
    extra = ["--r2-lambda", "1"] if flag == "--teacher-path" else []
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", flag, path, "--max-update", "1", *extra), check=False)
    assert code != 0 and f"{path}: {FIELD}" in one_line_error(out)
    assert not marker.exists()


def test_fairseq_train_refuses_a_planted_pretrained_dir(tiny, planted_model_dir, tmp_path):
    model, marker = planted_model_dir
    args = train_args(tiny, tmp_path / "ck", "--max-update", "1")
    args[args.index("--pretrained-dir") + 1] = model
    code, out = fairseq_train(args, check=False)
    assert code != 0 and f"{model}/model.pt: {FIELD}" in one_line_error(out)
    assert not marker.exists()


def test_fairseq_validate_refuses_a_planted_checkpoint(tiny, planted):
    path, marker = planted
    code, out = run("fairseq_cli.validate", tiny["bin"], "--user-dir", USER_DIR, "--path", path,
                    "--task", "xtune_classification", "--criterion", "xtune_consistency", "--valid-subset", "valid",
                    "--batch-size", "32", "--cpu")
    assert code != 0 and f"{path}: {FIELD}" in one_line_error(out)
    assert not marker.exists()


def test_hydra_restore_file_refuses_a_planted_checkpoint(tiny, planted, tmp_path):
    from test_hydra_configs import HYDRA_DIR

    path, marker = planted
    code, out = run("fairseq_cli.hydra_train", "--config-dir", HYDRA_DIR, "--config-name", "baseline_stage1",
                    f"task.data={tiny['bin']}", f"model.pretrained_dir={tiny['model']}",
                    f"checkpoint.save_dir={tmp_path / 'ck'}", f"checkpoint.restore_file={path}",
                    "common.cpu=true", "optimization.max_update=1", "lr_scheduler.total_num_update=1",
                    cwd=ROOT)  # from the repository root: the YAML's relative common.user_dir
    assert code != 0 and f"{path}: {FIELD}" in one_line_error(out)
    assert not marker.exists()


def test_pipeline_stage2_refuses_a_planted_stage1_checkpoint(tiny, tmp_path):
    """xtune-pipeline's stage 2 builds its teacher from stage1/checkpoint_best.pt: a planted one is refused."""
    marker = tmp_path / "ran"
    out = tmp_path / "run"
    flags = ["--model-dir", tiny["model"], "--data", tiny["bin"], "--out", out, "--recipe", "xnli",
             "--code-switch-dicts", tiny["dicts"], "--epochs", "1", "--lr", "1e-3", "--batch-size", "64", "--cpu",
             "--max-positions", "64"]
    code, out_text = run("xtune_fairseq.cli.pipeline", *flags, "--stages", "1")
    assert code == 0, out_text[-3000:]
    best = out / "stage1" / "checkpoint_best.pt"
    plant(str(best), best, marker)
    code, out_text = run("xtune_fairseq.cli.pipeline", *flags, "--stages", "2")
    assert code != 0 and f"{best}: {FIELD}" in one_line_error(out_text)
    assert not marker.exists() and not (out / "stage2" / "checkpoint_last.pt").exists()
