"""The two-stage xTune recipe with fairseq-train, then evaluation (what xtune-pipeline runs):

stage 1: task loss + lambda1 R1(D, A*), best checkpoint by mean dev accuracy over languages
stage 2: restart from the pretrained model; task loss on D_A = D + A(D)
         + lambda1 R1(D_A, A') + lambda2 R2 against the frozen stage-1 best checkpoint
then:    per-language test accuracy of both stages (results.json, results.md)
A stage whose folder holds DONE is skipped, an unfinished one resumed, if stageK/fingerprint.json agrees.
Each stage is a fairseq-train process; its output goes to stageK/train.log, its progress to stdout."""

import dataclasses
import os
import shlex
import subprocess
import time

from xtune_fairseq.core.data.prepared import meta_path, read_data_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir, open_output_dir
from xtune_fairseq.core.xlmr_dir import check_model_dir
from xtune_fairseq.evaluation import evaluate, write_outputs
from xtune_fairseq.pipeline.checks import check_config, check_precision, parse_stages
from xtune_fairseq.pipeline.commands import logging_env, stage_epochs, train_command, with_binarized_views
from xtune_fairseq.pipeline.config import PipelineConfig, resolve_kind_defaults
from xtune_fairseq.pipeline.reuse import reuse_or_record  # same training flags and data, or refused
from xtune_fairseq.pipeline.schedule import count_rows

# --out: what a run writes at its top (fairseq's checkpoints and logs go in stage1/, stage2/); a folder
# without the marker is a run folder when a stage's command.txt is there (older versions wrote none)
RUN_DIR = OutputDir("a run folder written by xtune-pipeline", "xtune-run.json",
                    frozenset({"stage1", "stage2", "results*.json", "results*.md", "xtune-run.json"}),
                    ".tmp-xtune-run-", legacy=("stage1/command.txt", "stage2/command.txt"))


def run_pipeline(cfg: PipelineConfig) -> dict:
    """Trains the stages of cfg.stages in cfg.out (finished ones reused), scores the best checkpoint of
    each of cfg.eval_stages (default: those) on cfg.eval_split, writes results.json and results.md (or
    results-SPLIT.*) and returns the results ({stageK: per-language scores, average, transfer gap...}).
    A setting out of range or a run that cannot go on raises InputError; cfg itself is not changed."""
    a = check_config(dataclasses.replace(cfg))  # the data's defaults below are resolved in this copy
    check_precision(a)
    check_model_dir(a.model_dir)
    train_meta = meta_path(a.data, "train")
    if not os.path.isfile(train_meta):
        raise InputError(f"{train_meta} not found: run xtune-preprocess first")
    n = count_rows(a, train_meta)
    info = read_data_info(a.data)
    resolve_kind_defaults(a, info.get("kind", "classification"), info.get("labels", []))
    stages = parse_stages(a.stages)
    open_run_folder(a)
    if 1 in stages:
        run_stage(a, 1, n)
    if 2 in stages:
        run_stage(a, 2, n + (int(round(a.augmented_ratio * n)) if a.a != "none" else 0))
    evaluated = parse_stages(a.eval_stages, "--eval-stages") if a.eval_stages else stages
    runs = [f"stage{s}={os.path.join(a.out, f'stage{s}', 'checkpoint_best.pt')}" for s in evaluated]
    results = evaluate(runs, a.data, a.eval_split, metric=a.metric)
    stem = os.path.join(a.out, results_stem(a.eval_split))
    table = write_outputs(results, stem + ".json", stem + ".md")
    print(table, flush=True)
    return results


def results_stem(split: str, name: str = "results") -> str:
    """NAME scores the test split; NAME-SPLIT another split, beside it (results.json, results-valid.json)."""
    return name if split == "test" else f"{name}-{split}"


def run_stage(a, stage, n_rows):
    """Trains stage `stage` (1 or 2) of n_rows training rows into OUT/stageK with fairseq-train, unless
    that folder holds it finished (DONE); an InputError if training fails or leaves no checkpoint_best.pt."""
    save_dir = os.path.join(a.out, f"stage{stage}")
    done = os.path.join(save_dir, "DONE")
    cmd = reuse_or_record(a, stage, train_command(a, stage, save_dir, n_rows))
    if os.path.isfile(done):
        print(f"[xtune] stage {stage}: already finished ({done}), skipped", flush=True)
        return
    cmd = with_binarized_views(a, stage, cmd)
    log_path = os.path.join(save_dir, "train.log")
    print(f"[xtune] stage {stage}: {n_rows} rows x {stage_epochs(a, stage)} epochs; log {log_path}", flush=True)
    with open(os.path.join(save_dir, "command.txt"), "w") as f:
        f.write(shlex.join(cmd) + "\n")
    start = time.time()
    env = logging_env(a, stage)
    with open(log_path, "a") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            for line in proc.stdout:
                log.write(line)
                if "valid on" in line or "| ERROR |" in line or line.startswith("error:"):
                    print(f"[xtune] stage {stage}: " + line.split("| valid |")[-1].strip(), flush=True)
                elif "| train_inner |" in line:
                    print(f"[xtune] stage {stage}: " + _short_progress(line), flush=True)
            proc.wait()
        except BaseException:  # interrupted (Ctrl-C, or SIGTERM to this process alone): no orphan training
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        tail = open(log_path).read().splitlines()[-15:]
        raise InputError(f"stage {stage} training failed (exit {proc.returncode}); last lines of {log_path}:\n"
                         + "\n".join(tail))
    if not os.path.isfile(os.path.join(save_dir, "checkpoint_best.pt")):
        raise InputError(f"stage {stage} wrote no checkpoint_best.pt in {save_dir} (no validation split?)")
    with open(done, "w") as f:
        f.write(f"{time.time() - start:.1f} seconds\n")


def _short_progress(line: str) -> str:
    """'epoch 001:  10 / 32 loss=... wall=15' -> the fields worth watching."""
    body = line.split("| train_inner |", 1)[1].strip()
    head, _, rest = body.partition(" loss=")
    keep = ("r1_loss=", "r2_loss=", "accuracy=", "num_updates=", "wall=")
    fields = [f.strip(",") for f in ("loss=" + rest).split() if f.startswith(("loss=",) + keep)]
    return " ".join([" ".join(head.split())] + fields)


def open_run_folder(a) -> None:
    """--out checked and made (files.open_output_dir): missing, empty, or a run folder with nothing of
    the user's at its top, unless --force; never --data or --model-dir or inside them. A
    --tensorboard-logdir inside it is the run's too."""
    logs = getattr(a, "tensorboard_logdir", None)
    top = os.path.relpath(os.path.abspath(logs), os.path.abspath(a.out)).split(os.sep)[0] if logs else os.pardir
    kind = RUN_DIR if top in (os.curdir, os.pardir) else dataclasses.replace(RUN_DIR, names=RUN_DIR.names | {top})
    open_output_dir(a.out, "--out", kind, [a.data, a.model_dir], getattr(a, "force", False))
