"""xtune-pipeline: the two-stage xTune recipe with fairseq-train, then evaluation.

stage 1: task loss + lambda1 R1(D, A*), best checkpoint by mean dev accuracy over languages
stage 2: restart from the pretrained model; task loss on D_A = D + A(D)
         + lambda1 R1(D_A, A') + lambda2 R2 against the frozen stage-1 best checkpoint
then:    per-language test accuracy of both stages (results.json, results.md)
A stage whose folder holds DONE is skipped, an unfinished one resumed, if stageK/fingerprint.json agrees.
"""

import argparse
import math
import os
import shlex
import subprocess
import sys
import time

from xtune_fairseq.core.augment.registry import AUGMENTATIONS
from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.cli.pipeline_reuse import reuse_or_record  # same training flags and data, or refused
from xtune_fairseq.cli.pipeline_runtime import (add_runtime_arguments, check_precision, check_runtime_args,
                                                count_batches, logging_env, logging_flags, parse_stages, runtime_flags,
                                                schedule, trainer_module, with_binarized_views, world_size)
from xtune_fairseq.cli.pipeline_runtime import open_run_folder  # --out: none of the user's files replaced
from xtune_fairseq.core.data.prepared import TASK_OF_KIND, data_kind, meta_path, read_data_info, read_qa_meta
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.recipes import RECIPES
from xtune_fairseq.core.xlmr_dir import check_model_dir


def count_lines(path):
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def count_rows(a, train_meta) -> int:
    """Training rows of stage 1: examples, or for QA the windows of every question."""
    if data_kind(a.data) != "qa":
        return count_lines(train_meta)
    from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
    from xtune_fairseq.core.qa.views import QAViewMaker, count_windows

    sampler = SubwordSampler(os.path.join(a.data, "sentencepiece.bpe.model"))
    maker = QAViewMaker("none", sampler, a.max_positions, a.doc_stride, a.max_query_length)
    return count_windows(read_qa_meta(train_meta), maker)


def train_command(a, stage, save_dir, n_rows):
    """The fairseq-train command of a stage; its schedule counts updates of --update-freq batches."""
    kind = data_kind(a.data)
    user_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "user_dir")
    cmd = [
        sys.executable, "-m", trainer_module(a), a.data, "--user-dir", user_dir,
        "--task", TASK_OF_KIND[kind], "--arch", "xlmr_xtune", "--pretrained-dir", a.model_dir,
        *_optimizer_flags(a), *_data_flags(a, kind),
        "--max-epoch", str(stage_epochs(a, stage)), "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--best-checkpoint-metric", a.best_metric, "--maximize-best-checkpoint-metric",
        "--log-format", "simple", "--log-interval", str(a.log_interval),
        *_xtune_flags(a, stage), *runtime_flags(a), *logging_flags(a, stage),
    ]
    extra = shlex.split(a.fairseq_args)
    n_batches = count_batches(cmd[3:] + extra) if a.max_tokens else math.ceil(n_rows / a.batch_size)
    total, warmup = schedule(n_batches, stage_epochs(a, stage), a.warmup_ratio, a.update_freq, world_size(a))
    return cmd + ["--total-num-update", str(total), "--warmup-updates", str(warmup)] + extra


def _optimizer_flags(a):
    return ["--criterion", "xtune_consistency", "--kl-reduction", a.kl_reduction, "--seed", str(a.seed),
            "--optimizer", "adam", "--adam-betas", a.adam_betas, "--adam-eps", str(a.adam_eps),
            "--weight-decay", str(a.weight_decay), "--clip-norm", str(a.clip_norm),
            "--lr-scheduler", "polynomial_decay", "--lr", str(a.lr), "--pooler-dropout", str(a.pooler_dropout)]


def _data_flags(a, kind):
    out = ["--max-positions", str(a.max_positions), "--batch-size", str(a.batch_size),
           "--required-batch-size-multiple", "1"]
    if a.sort_by_length:
        out.append("--sort-by-length")
    if kind == "tagging":
        out += ["--word-pooling", a.word_pooling]
    if kind == "qa":
        out += ["--doc-stride", str(a.doc_stride), "--max-query-length", str(a.max_query_length)]
    return out


def _xtune_flags(a, stage):
    """Views, R1 and R2 of a stage: A* in stage 1; A, A' and the stage-1 teacher in stage 2."""
    out = ["--r2-rows", a.r2_rows, "--subword-ratio", str(a.subword_ratio),
           "--code-switch-ratio", str(a.code_switch_ratio), "--noise-std", str(a.noise_std)]
    if a.code_switch_dicts:
        out += ["--code-switch-dicts", a.code_switch_dicts]
    if stage == 1:
        return out + ["--r1-augmentation", a.a_star, "--r1-lambda", str(a.lambda1 if a.a_star != "none" else 0.0)]
    out += ["--data-augmentation", a.a, "--augmented-ratio", str(a.augmented_ratio),
            "--r1-augmentation", a.a_prime, "--r1-lambda", str(a.lambda1 if a.a_prime != "none" else 0.0),
            "--r2-lambda", str(a.lambda2),
            "--teacher-path", os.path.join(a.out, "stage1", f"checkpoint_{a.teacher}.pt")]
    return out + ["--r2-hard-labels"] * a.r2_hard_labels


def stage_epochs(a, stage: int) -> int:
    return a.stage1_epochs if stage == 1 and a.stage1_epochs else a.epochs


def run_stage(a, stage, n_rows):
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
        raise InputError(f"stage {stage} training failed (exit {proc.returncode}); last lines of {log_path}:\n" + "\n".join(tail))
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="pretrained XLM-R-format directory")
    p.add_argument("--data", required=True, help="xtune-preprocess output (train, valid and test splits)")
    p.add_argument("--out", required=True, help="run folder: stage1/, stage2/, results.json, results.md")
    p.add_argument("--force", action="store_true", help="write into an --out folder holding files it did not write")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="xnli",
                   help="preset from the paper's Tables 7-8 and the authors' scripts; it sets the defaults of "
                   "any flag below, an explicit flag still wins")
    p.add_argument("--stages", default="1,2", help="'1' for stage 1 only (plain fine-tuning with --recipe baseline)")
    _add_xtune_arguments(p)
    _add_optimizer_arguments(p)
    _add_data_arguments(p)
    add_runtime_arguments(p)
    _add_evaluation_arguments(p)
    p.add_argument("--fairseq-args", default="", help="extra fairseq-train flags, quoted")
    return p


def _add_xtune_arguments(p):
    g = p.add_argument_group("xTune: augmentations, R1 and R2")
    for flag, help_ in (("--a-star", "A*: R1 view in stage 1"), ("--a", "A: data augmentation of stage 2"),
                        ("--a-prime", "A': R1 view in stage 2")):
        g.add_argument(flag, choices=list(AUGMENTATIONS), default="none", help=help_)
    g.add_argument("--lambda1", type=float, default=0.0, help="weight of R1")
    g.add_argument("--lambda2", type=float, default=0.0, help="weight of R2")
    g.add_argument("--augmented-ratio", type=float, default=1.0)
    g.add_argument("--subword-ratio", type=float, default=0.3, help="probability that a word is resampled")
    g.add_argument("--code-switch-ratio", type=float, default=0.3)
    g.add_argument("--code-switch-dicts", default="", help="comma-separated en-XX.txt dictionaries")
    g.add_argument("--noise-std", type=float, default=1e-5)
    g.add_argument("--r2-hard-labels", action=argparse.BooleanOptionalAction, default=False,
                   help="R2 as cross-entropy on the teacher's argmax (the NER recipes')")
    g.add_argument("--teacher", choices=["best", "last"], default="best",
                   help="stage-1 checkpoint used as R2's teacher (the authors' QA: the last)")
    g.add_argument("--r2-rows", choices=["augmented", "all"], default="augmented",
                   help="R2 on the augmented copies (the authors' code) or on all of D + A(D) (the paper's sum)")
    g.add_argument("--kl-reduction", choices=["authors_mean", "batchmean"], default="authors_mean",
                   help="authors_mean: each term a mean over its own items as in the authors' code; batchmean: "
                   "the paper's sums over examples")


def _add_optimizer_arguments(p):
    g = p.add_argument_group("optimizer and schedule")
    g.add_argument("--lr", type=float, default=7e-6, help="peak learning rate")
    g.add_argument("--epochs", type=int, default=10, help="epochs per stage")
    g.add_argument("--stage1-epochs", type=int,
                   help="epochs of stage 1 when they should differ, e.g. twice --epochs so that stage 1 on D "
                   "makes as many updates as stage 2 on D + A(D)")
    g.add_argument("--warmup-ratio", type=float,
                   help="share of the updates with a linear warm-up (default: 0 for classification, as the "
                   "authors' scripts run it; 0.1 for tagging and QA)")
    g.add_argument("--adam-betas", default="(0.9,0.999)", help="AdamW betas (the authors': HF AdamW defaults)")
    g.add_argument("--adam-eps", type=float, default=1e-8)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--clip-norm", type=float, default=1.0, help="gradient clipping (the authors' max_grad_norm)")
    g.add_argument("--pooler-dropout", type=float, default=0.1,
                   help="dropout of the sentence head (HF's RobertaClassificationHead: 0.1)")
    g.add_argument("--seed", type=int, default=1)


def _add_data_arguments(p):
    g = p.add_argument_group("data and batches")
    g.add_argument("--batch-size", type=int, default=32, help="rows per batch (per GPU, per accumulated step)")
    g.add_argument("--max-positions", type=int, default=256, help="tokens per input")
    g.add_argument("--word-pooling", choices=["first", "average", "sum"], default="first",
                   help="tagging: word vector from its first subword, their average (the paper's POS) or their "
                   "sum (the authors' POS code)")
    g.add_argument("--doc-stride", type=int, default=128, help="QA: context pieces between the starts of two windows")
    g.add_argument("--max-query-length", type=int, default=64, help="QA: question pieces kept")
    g.add_argument("--sort-by-length", action="store_true", help="batch rows of similar length (faster on CPU)")


def _add_evaluation_arguments(p):
    g = p.add_argument_group("checkpoint selection, evaluation and logging")
    g.add_argument("--eval-stages", default=None, help="stages to evaluate (default: all that ran)")
    g.add_argument("--eval-split", default="test",
                   help="split the best checkpoints are scored on: results.json for test, else results-SPLIT.json "
                   "(finished stages are not trained again, so a finished run can be scored on another split)")
    g.add_argument("--metric", choices=["auto", "accuracy", "f1", "squad", "mlqa"], default="auto",
                   help="tagging: token accuracy or entity F1 (auto: F1 for BIO tag sets); QA: F1/EM with SQuAD v1.1 "
                   "or MLQA normalisation")
    g.add_argument("--best-metric", choices=["auto", "avg_acc", "avg_f1"], default="auto",
                   help="dev score that picks checkpoint_best.pt (and the teacher): auto = avg_f1 for NER (BIO "
                   "tags) and QA, avg_acc otherwise")
    g.add_argument("--log-interval", type=int, default=50)


def parse(argv=None):
    p = build_parser()
    recipe = RECIPES[p.parse_args(argv).recipe]
    unknown = sorted(set(recipe) - {action.dest for action in p._actions})
    if unknown:  # a typo in a recipe would otherwise be silently ignored
        raise InputError(f"recipe sets unknown pipeline settings {unknown}")
    p.set_defaults(**recipe)  # explicit flags still win over the recipe
    a = check_ranges(p.parse_args(argv))  # every numeric flag (flag_ranges.RANGES)
    check_runtime_args(a)
    return a


def resolve_kind_defaults(a, kind: str, labels) -> None:
    """Defaults that depend on the data: warm-up (the authors' classification runs have none) and
    the checkpoint-selection score (F1 where the authors select by F1)."""
    from xtune_fairseq.core.metrics.entities import tagging_metric

    if a.warmup_ratio is None:
        a.warmup_ratio = 0.0 if kind == "classification" else 0.1
    if a.best_metric == "auto":
        f1 = kind == "qa" or (kind == "tagging" and tagging_metric(a.metric, labels) == "f1")
        a.best_metric = "avg_f1" if f1 else "avg_acc"


def run(a):
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
    from xtune_fairseq.cli.evaluate import evaluate, write_outputs

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


def main(argv=None):
    return run_cli(lambda: run(parse(argv)))  # parse's InputErrors too end with one line


if __name__ == "__main__":
    raise SystemExit(main())
