"""examples/hydra/*.yaml, the recipes as fairseq-hydra-train configs: each composes to the
configuration that xtune-pipeline's fairseq-train command parses to, key for key (so a YAML cannot
drift from recipes.py or the pipeline), and on the tiny model a stage trained from the YAML logs
the same per-update losses and saves the same weights as the pipeline's command."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import ROOT, USER_DIR

HYDRA_DIR = os.path.join(ROOT, "examples", "hydra")
# the data kind each recipe trains on (every recipe in recipes.py has its YAMLs), and labels that make
# the pipeline select by the same dev score as the real data (entity F1 for BIO tags)
KINDS = {"xnli": "classification", "pawsx": "classification", "xnli-translate-train": "classification",
         "pawsx-translate-train": "classification", "baseline": "classification",
         "pos": "tagging", "ner": "tagging", "pos-translate-train": "tagging", "ner-translate-train": "tagging",
         "xquad": "qa", "mlqa": "qa", "tydiqa": "qa",
         "xquad-translate-train": "qa", "mlqa-translate-train": "qa", "tydiqa-translate-train": "qa"}
# recipes run as stage 1 alone (examples/classification/baseline.sh: --stages 1), so without a stage-2 YAML
STAGE1_ONLY = {"baseline"}
LABELS = {"classification": ["negative", "positive"], "tagging": ["NOUN", "VERB"], "qa": []}
NER_LABELS = ["B-PER", "I-PER", "O"]
# what a YAML may leave to the command line (???): paths and the data-dependent update counts
INPUTS = {"task.data", "task.code_switch_dicts", "model.pretrained_dir", "checkpoint.save_dir",
          "criterion.teacher_path", "lr_scheduler.total_num_update", "lr_scheduler.warmup_updates"}
# timing fields differ between two runs (also as train_wps, valid_wps, ...); all else must be equal
TIMING = {"wps", "ups", "wall", "train_wall"}


def yaml_names():
    return sorted(os.path.basename(p)[: -len(".yaml")] for p in glob.glob(os.path.join(HYDRA_DIR, "*.yaml")))


def recipe_and_stage(name):
    m = re.fullmatch(r"(.+)_stage([12])", name)
    assert m, f"{name}.yaml: expected RECIPE_stage1.yaml or RECIPE_stage2.yaml"
    assert m.group(1) in KINDS, f"{name}.yaml: add its recipe's data kind to KINDS in this test"
    return m.group(1), int(m.group(2))


def uses_code_switch(a, stage) -> bool:
    return "cs" in ((a.a_star,) if stage == 1 else (a.a, a.a_prime))


def pipeline_args(recipe, data, out, *extra, model="MODEL"):
    from xtune_fairseq.cli import pipeline
    from xtune_fairseq.pipeline.config import resolve_kind_defaults

    a = pipeline.parse(["--model-dir", str(model), "--data", str(data), "--out", str(out), "--recipe", recipe,
                        *map(str, extra)])
    labels = NER_LABELS if recipe.startswith("ner") else LABELS[KINDS[recipe]]
    resolve_kind_defaults(a, KINDS[recipe], labels)
    return a


def pipeline_config(recipe, stage, tmp_path, n_rows=1000):
    """(pipeline settings, fairseq-train command, the config fairseq-train parses it to)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    from xtune_fairseq.pipeline.commands import train_command

    data = tmp_path / f"data-{KINDS[recipe]}"  # the command reads only the data's kind
    data.mkdir(exist_ok=True)
    (data / "xtune.json").write_text(json.dumps({"format": 1, "kind": KINDS[recipe]}))
    a = pipeline_args(recipe, data, tmp_path / "run")
    if uses_code_switch(a, stage):
        a.code_switch_dicts = "dicts/en-de.txt,dicts/en-fr.txt"
    cmd = train_command(a, stage, str(tmp_path / "run" / f"stage{stage}"), n_rows)
    args = options.parse_args_and_arch(options.get_training_parser(), cmd[3:])
    return a, cmd, convert_namespace_to_omegaconf(args)


def compose(name, overrides, config_dir=HYDRA_DIR):
    """The config fairseq-hydra-train builds from NAME.yaml (its schema, the user dir's defaults)."""
    from fairseq.dataclass.initialize import add_defaults, hydra_init
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import xtune_fairseq.fairseq_wiring.register  # noqa: F401  (fairseq-train imports the user dir before add_defaults)

    hydra_init(name)  # as fairseq-hydra-train: FairseqConfig is the schema of the primary config
    with initialize_config_dir(config_dir=config_dir, version_base="1.1"):
        cfg = hydra_compose(config_name=name, overrides=overrides)
    add_defaults(cfg)
    return cfg


def missing_keys(node, prefix=""):
    out = []
    for key in node:
        if OmegaConf.is_missing(node, key):
            out.append(prefix + key)
        elif not OmegaConf.is_interpolation(node, key) and OmegaConf.is_dict(node[key]):
            out += missing_keys(node[key], f"{prefix}{key}.")
    return out


def override(key, value):
    return f"{key}='{value}'" if isinstance(value, str) and "," in value else f"{key}={value}"


def config_differences(name, tmp_path, config_dir=HYDRA_DIR):
    """Every place where NAME.yaml, its ??? inputs filled from the pipeline's command, composes to
    another value than that command: [] when the YAML trains what the pipeline trains."""
    from fairseq.dataclass.configs import FairseqConfig

    recipe, stage = recipe_and_stage(name)
    a, cmd, ref = pipeline_config(recipe, stage, tmp_path)
    raw = OmegaConf.load(os.path.join(config_dir, f"{name}.yaml"))
    inputs = missing_keys(raw)
    diffs = [f"{k}: ??? but it is a recipe setting, not an input" for k in inputs if k not in INPUTS]
    overrides = [override(k, getattr(ref[k.split(".")[0]], k.split(".")[1])) for k in inputs if k in INPUTS]
    cfg = compose(name, overrides + [override("common.user_dir", ref.common.user_dir)], config_dir)
    # scoring: fairseq-train's parser always adds BLEU scoring, unused in training
    for group in sorted(set(FairseqConfig.__dataclass_fields__) - {"model", "scoring"}):
        ours = OmegaConf.to_container(cfg[group], resolve=True, enum_to_str=True) if cfg.get(group) else None
        theirs = OmegaConf.to_container(ref[group], resolve=True, enum_to_str=True) if ref.get(group) else None
        if not isinstance(ours, dict) or not isinstance(theirs, dict):
            if ours != theirs:
                diffs.append(f"{group}: yaml {ours} != pipeline {theirs}")
            continue
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key, "<unset>") != theirs.get(key, "<unset>"):
                diffs.append(f"{group}.{key}: yaml {ours.get(key, '<unset>')!r} != pipeline "
                             f"{theirs.get(key, '<unset>')!r}")
    # the model: the YAML's keys against the parsed fairseq-train namespace (which holds every flag)
    for key, value in OmegaConf.to_container(cfg.model, resolve=True).items():
        theirs = getattr(ref.model, "arch" if key == "_name" else key, "<unset>")
        if value != theirs:
            diffs.append(f"model.{key}: yaml {value!r} != pipeline {theirs!r}")
    # the teacher the header names (the YAML leaves the path to the command line)
    if stage == 2 and f"checkpoint_{a.teacher}.pt" not in open(os.path.join(config_dir, f"{name}.yaml")).read():
        diffs.append(f"the header should name the stage-1 checkpoint_{a.teacher}.pt as teacher")
    return diffs


def test_every_recipe_has_its_stage_yamls():
    """A recipe added to recipes.py without RECIPE_stage1.yaml and RECIPE_stage2.yaml (named exactly
    as the recipe) fails here, as does a YAML of no recipe."""
    from xtune_fairseq.core.recipes import RECIPES

    assert set(KINDS) == set(RECIPES), "name each recipe's data kind in KINDS in this test"
    expected = {f"{r}_stage{s}" for r in RECIPES for s in ((1,) if r in STAGE1_ONLY else (1, 2))}
    names = set(yaml_names())
    assert not expected - names, f"missing in examples/hydra: {sorted(expected - names)}"
    assert not names - expected, f"YAMLs of no recipe (or a stage it does not run): {sorted(names - expected)}"


@pytest.mark.parametrize("name", yaml_names())
def test_yaml_composes_to_the_pipeline_command(name, tmp_path):
    recipe, stage = recipe_and_stage(name)
    raw = OmegaConf.load(os.path.join(HYDRA_DIR, f"{name}.yaml"))
    assert os.path.isdir(os.path.join(ROOT, raw.common.user_dir))  # relative to the repository root
    assert os.path.join(ROOT, raw.common.user_dir) == USER_DIR
    assert raw.hydra.job.chdir is False  # paths on the command line stay relative to where it runs
    assert config_differences(name, tmp_path) == []


def test_drift_from_recipes_or_yaml_is_caught(tmp_path, monkeypatch):
    from xtune_fairseq.core import recipes

    monkeypatch.setitem(recipes.RECIPES, "xnli", dict(recipes.RECIPES["xnli"], lambda2=1.0, lr=1e-5))
    diffs = config_differences("xnli_stage2", tmp_path)
    assert any(d.startswith("criterion.r2_lambda: yaml 5.0 != pipeline 1.0") for d in diffs), diffs
    assert any(d.startswith("optimization.lr:") for d in diffs), diffs
    monkeypatch.undo()

    edited = tmp_path / "edited"
    edited.mkdir()
    text = open(os.path.join(HYDRA_DIR, "pos_stage1.yaml")).read()
    text = text.replace("  word_pooling: sum\n", "  word_pooling: average\n")
    text = text.replace("  r1_lambda: 5.0\n", "  r1_lambda: ???\n")
    (edited / "pos_stage1.yaml").write_text(text)
    diffs = config_differences("pos_stage1", tmp_path, config_dir=str(edited))
    assert "task.word_pooling: yaml 'average' != pipeline 'sum'" in diffs, diffs
    assert "criterion.r1_lambda: ??? but it is a recipe setting, not an input" in diffs, diffs


# --- training: fairseq-hydra-train against the pipeline's fairseq-train on the tiny model -------------------


def log_records(out):
    """{tag: [json record, ...]} of --log-format json lines, fairseq's and hydra's logging formats."""
    records = {}
    for line in out.splitlines():
        m = re.search(r"(?:\| (\w+) \||\]\[(\w+)\]\[INFO\] -) (\{.*\})\s*$", line)
        if m:
            records.setdefault(m.group(1) or m.group(2), []).append(json.loads(m.group(3)))
    return records


def without_timing(records):
    def timing(key):
        return key in TIMING or re.sub(r"^(train|valid)_", "", key) in TIMING

    return {tag: [{k: v for k, v in r.items() if not timing(k)} for r in recs] for tag, recs in records.items()}


def run(cmd, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def train_both(tiny, tmp_path, recipe, stage, teachers=None):
    """Trains a stage twice: the pipeline's fairseq-train command and fairseq-hydra-train on the
    stage's YAML with the same inputs and sizes (stage 2: each with its own stage-1 checkpoint as
    teacher); returns both (log records, save dir)."""
    from xtune_fairseq.pipeline.commands import train_command

    sizes = ["--lr", "1e-3", "--epochs", "1", "--cpu", "--log-interval", "1"]
    a = pipeline_args(recipe, tiny["bin"], tmp_path / "run", "--code-switch-dicts", tiny["dicts"], *sizes,
                      model=tiny["model"])
    a.fairseq_args = "--log-format json --max-update 4"
    pipe_dir = tmp_path / "pipeline" / f"stage{stage}"
    n = 600 if stage == 1 else 1200  # the tiny training set; stage 2 adds its code-switched copies
    cmd = train_command(a, stage, str(pipe_dir), n)
    if teachers:
        cmd[cmd.index("--teacher-path") + 1] = str(teachers[0])
    pipe_out = run(cmd, cwd=tmp_path)

    hydra_dir = tmp_path / "hydra" / f"stage{stage}"
    total = cmd[cmd.index("--total-num-update") + 1]
    overrides = [f"task.data={tiny['bin']}", f"task.code_switch_dicts='{tiny['dicts']}'",
                 f"model.pretrained_dir={tiny['model']}", f"checkpoint.save_dir={hydra_dir}",
                 f"lr_scheduler.total_num_update={total}", "optimization.lr=[0.001]", "optimization.max_epoch=1",
                 "optimization.max_update=4", "common.cpu=true", "common.log_format=json", "common.log_interval=1"]
    if teachers:
        overrides.append(f"criterion.teacher_path={teachers[1]}")
    hydra_cmd = [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", HYDRA_DIR,
                 "--config-name", f"{recipe}_stage{stage}", *overrides]
    before = sorted(os.listdir(ROOT))
    hydra_out = run(hydra_cmd, cwd=ROOT)  # from the repository root: the YAML's relative common.user_dir
    assert sorted(os.listdir(ROOT)) == before  # hydra writes nothing there (hydra.run.dir is the save dir)
    assert (hydra_dir / ".hydra" / "config.yaml").is_file()  # hydra's record of the run sits in the stage folder
    return (log_records(pipe_out), pipe_dir), (log_records(hydra_out), hydra_dir)


def assert_same_training(pipe, hydra):
    import torch

    from xtune_fairseq.fairseq_wiring.checkpoints import safe_load

    (pipe_logs, pipe_dir), (hydra_logs, hydra_dir) = pipe, hydra
    assert [r["num_updates"] for r in pipe_logs["train_inner"]] == ["1", "2", "3", "4"]
    assert without_timing(hydra_logs) == without_timing(pipe_logs)
    ours, theirs = (safe_load(str(d / "checkpoint_last.pt"))["model"] for d in (hydra_dir, pipe_dir))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


@pytest.fixture(scope="module")
def xnli_stage1(tiny, tmp_path_factory):
    return train_both(tiny, tmp_path_factory.mktemp("hydra1"), "xnli", 1)


def test_hydra_stage1_trains_as_the_pipeline(xnli_stage1):
    pipe, hydra = xnli_stage1
    assert float(pipe[0]["train_inner"][0]["r1_loss"]) > 0  # R1 on the code-switched view is on
    assert_same_training(pipe, hydra)


@pytest.mark.slow  # two more trainings (about a minute on 2 busy cores)
def test_hydra_stage2_trains_as_the_pipeline(tiny, tmp_path, xnli_stage1):
    # the teacher through criterion.teacher_path: the hydra run's own stage-1 checkpoint (its config is
    # hydra's, the pipeline's is fairseq-train's namespace; both weigh the same, test above)
    teachers = [save_dir / "checkpoint_best.pt" for _, save_dir in xnli_stage1]
    pipe, hydra = train_both(tiny, tmp_path, "xnli", 2, teachers=teachers)
    assert float(pipe[0]["train_inner"][0]["r2_loss"]) > 0  # the teacher (criterion.teacher_path) is used
    assert "loaded train: 1200 rows (600 augmented)" in open(hydra[1] / "hydra_train.log").read()
    assert_same_training(pipe, hydra)
