"""The two-stage xTune recipe with fairseq-train, then evaluation (what xtune-pipeline runs):

stage 1: task loss + lambda1 R1(D, A*), best checkpoint by mean dev accuracy over languages
stage 2: restart from the pretrained model; task loss on D_A = D + A(D)
         + lambda1 R1(D_A, A') + lambda2 R2 against the frozen stage-1 best checkpoint
then:    per-language test accuracy of both stages (results.json, results.md); where the test split has
         no labels (XTREME's download), its predictions in XTREME's submission layout
         (xtreme-submission/stageK/TASK/test-LANG.tsv) and the valid split's scores (results-valid.*)
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
from xtune_fairseq import evaluation  # loads on first use: scoring imports torch and fairseq
from xtune_fairseq.evaluation.submission import FOLDER as SUBMISSION, split_unlabelled, summary
from xtune_fairseq.pipeline.checks import check_config, check_precision, parse_stages
from xtune_fairseq.pipeline.commands import logging_env, stage_epochs, train_command, with_binarized_views
from xtune_fairseq.pipeline.config import PipelineConfig, resolve_kind_defaults
from xtune_fairseq.pipeline.reuse import reuse_or_record  # same training flags and data, or refused
from xtune_fairseq.pipeline.schedule import count_rows

# --out: what a run writes at its top (fairseq's checkpoints and logs go in stage1/, stage2/); a folder
# without the marker is a run folder when a stage's command.txt is there (older versions wrote none)
RUN_DIR = OutputDir("a run folder written by xtune-pipeline", "xtune-run.json",
                    frozenset({"stage1", "stage2", "results*.json", "results*.md", "xtune-run.json", SUBMISSION}),
                    ".tmp-xtune-run-", legacy=("stage1/command.txt", "stage2/command.txt"))


def run_pipeline(cfg: PipelineConfig) -> dict:
    """Trains the stages of cfg.stages in cfg.out (finished ones reused), scores the best checkpoint of
    each of cfg.eval_stages (default: those) on cfg.eval_split, writes results.json and results.md (or
    results-SPLIT.*) and returns the results ({stageK: per-language scores, average, transfer gap...}).
    Languages without labels (XTREME's test sets) are predicted into OUT/xtreme-submission, the valid
    split then scored too (eval_splits); one line says what was scored and what only predicted.
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
    splits = eval_splits(a, info)  # before training: a run never trains and then stops on a missing split
    open_run_folder(a)
    if 1 in stages:
        run_stage(a, 1, n)
    if 2 in stages:
        run_stage(a, 2, n + (int(round(a.augmented_ratio * n)) if a.a != "none" else 0))
    evaluated = parse_stages(a.eval_stages, "--eval-stages") if a.eval_stages else stages
    runs = [f"stage{s}={os.path.join(a.out, f'stage{s}', 'checkpoint_best.pt')}" for s in evaluated]
    by_split = {}
    for split in splits:
        by_split[split] = results = evaluation.evaluate(runs, a.data, split, metric=a.metric,
                                                        submission_dir=os.path.join(a.out, SUBMISSION))
        if any(r["per_language"] for r in results.values()):  # a split without labels: predictions only
            stem = os.path.join(a.out, results_stem(split))
            print(evaluation.write_outputs(results, stem + ".json", stem + ".md"), flush=True)
    print(f"[xtune] {summary(by_split)}", flush=True)
    return by_split[splits[0]]


def eval_splits(a, info: dict) -> list:
    """--split, and the valid split too where the test split lacks labels in some language (XTREME's
    own test sets: predicted in its submission layout) or is missing: every split with labels is scored.
    A --split the data lacks is refused before training."""
    present = info.get("splits", [a.eval_split])
    if a.eval_split != "test":
        if a.eval_split not in present:
            raise InputError(f"--split {a.eval_split}: {a.data} has the splits {', '.join(present)}")
        return [a.eval_split]
    splits = ["test"] if "test" in present else []
    if "valid" in present and (not splits or split_unlabelled(a.data, "test")):
        splits.append("valid")
    if not splits:
        raise InputError(f"{a.data}: no test or valid split to score (it has {', '.join(present)}); rerun "
                         "xtune-preprocess with --valid / --test")
    return splits


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
