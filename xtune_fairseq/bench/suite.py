"""xtune-bench: update time of xTune against plain fine-tuning, measured in one process.

Configurations (same model, data, batches and optimizer): fairseq's own sentence_prediction
criterion (plain fine-tuning), xtune_consistency with R1 only, R2 only (online teacher),
R1 + R2, and R1 + R2 with the teacher's predictions on the originals cached (`--teacher-cache`: the
teacher then runs on the augmented rows only); with MT views also R2 from the cache alone. They run interleaved, round after round, so machine noise hits all of them alike;
each reports the median update time (forward, backward, optimizer step), examples per second,
its ratio to plain, and the peak resident memory during its updates. The throughput of the
per-example augmentations (subword sampling, code-switch) is measured against training's.
"""

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time

from xtune_fairseq.cli.common import add_report_flags, report_cli
from xtune_fairseq.bench.process_memory import reset_peak_rss, status_mb
from xtune_fairseq.prepare import build_cache
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _build(base_argv, extra):
    from fairseq import options, tasks  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), base_argv + extra))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    return task, model, task.build_criterion(cfg.criterion)


def make_teacher(a, out_dir):
    """A stage-1-shaped checkpoint (one update) to serve as R2's teacher."""
    cmd = [sys.executable, "-m", "fairseq_cli.train", a.data, "--user-dir", os.path.join(ROOT, "user_dir"),
           "--task", "xtune_classification", "--arch", "xlmr_xtune", "--pretrained-dir", a.model_dir,
           "--criterion", "xtune_consistency", "--optimizer", "adam", "--lr", "1e-5", "--max-update", "1",
           "--batch-size", "4", "--max-positions", str(a.max_positions), "--cpu", "--num-workers", "0",
           "--save-dir", out_dir, "--disable-validation", "--no-epoch-checkpoints"]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    return os.path.join(out_dir, "checkpoint_last.pt")


def bench(a):
    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    teacher = make_teacher(a, tempfile.mkdtemp(prefix="xtune-bench-teacher-"))
    base = [a.data, "--user-dir", os.path.join(ROOT, "user_dir"), "--task", "xtune_classification",
            "--arch", "xlmr_xtune", "--pretrained-dir", a.model_dir, "--max-positions", str(a.max_positions),
            "--cpu", "--seed", "1"]
    runs = {name: dict(zip(("task", "model", "crit"), _build(base, extra)))
            for name, extra in config_flags(a, teacher).items()}
    prepare_runs(runs, a)
    time_updates(runs, a)
    report = update_time_report(runs, a)
    report["augmentation_throughput"] = augmentation_throughput(runs["r1"]["task"], a, report)
    return report


def config_flags(a, teacher):
    """{configuration: its training flags}; writes the teacher cache the "cached" ones read."""
    import torch  # late: torch: start-up time


    aug = ["--code-switch-dicts", a.code_switch_dicts] if a.code_switch_dicts else []
    view = ["--r1-augmentation", a.augmentation] + aug
    configs = {
        "plain": ["--criterion", "sentence_prediction"],
        "r1": ["--criterion", "xtune_consistency", "--r1-lambda", "5", *view],
        "r2": ["--criterion", "xtune_consistency", "--r1-lambda", "0", "--r2-lambda", "1", "--teacher-path", teacher,
               "--data-augmentation", a.augmentation, *aug],
        "r1+r2": ["--criterion", "xtune_consistency", "--r1-lambda", "5", "--r2-lambda", "1", "--teacher-path",
                  teacher, "--data-augmentation", a.augmentation, *view],
    }
    cache = os.path.join(os.path.dirname(teacher), "teacher-cache.pt")
    torch.save(build_cache(teacher, a.data), cache)
    if a.augmentation == "mt":  # fixed views: R2 from the teacher cache, no teacher forward
        configs["r2 cached"] = ["--criterion", "xtune_consistency", "--r1-lambda", "0", "--r2-lambda", "1",
                                "--teacher-cache", cache, "--data-augmentation", "mt", *view]
    # the originals of D are fixed inputs: cached; the teacher runs on the augmented rows only
    configs["r1+r2 cached"] = configs["r1+r2"] + ["--teacher-cache", cache]
    return configs


def prepare_runs(runs, a):
    """Gives every configuration the very same batches (rows of D_A with their R1 partners; each
    criterion uses what it needs of them), its model in training mode and an optimizer."""
    import torch  # late: torch: start-up time

    task = runs["r1+r2 cached"]["task"]
    ds = task.dataset("train")
    ds.set_epoch(1)
    epoch = list(task.get_batch_iterator(ds, max_sentences=a.batch_size, seed=1, num_workers=0)
                 .next_epoch_itr(shuffle=True))
    full = [b for b in epoch if b["nsentences"] == a.batch_size] or epoch
    batches = list(itertools.islice(itertools.cycle(full), a.warmup + a.updates * a.rounds))
    online = [{k: v for k, v in b.items() if k not in ("teacher_logits", "teacher_cached")} for b in batches]
    for name, r in runs.items():  # only the "cached" configurations may use the cached teacher predictions
        r.update(model=r["model"].train(), batches=batches if name.endswith("cached") else online, times=[],
                 rss=0.0, opt=torch.optim.AdamW(r["model"].parameters(), lr=1e-5))


def timed_update(r, sample):
    """Seconds of one update of run r: forward, backward, optimizer step."""
    start = time.perf_counter()
    loss, sample_size, _ = r["crit"](r["model"], sample)
    (loss / sample_size).backward()
    r["opt"].step()
    r["opt"].zero_grad(set_to_none=True)
    return time.perf_counter() - start


def time_updates(runs, a):
    """Warm-up updates, then rounds of a.updates timed updates per configuration, interleaved;
    each run collects its update times and its peak resident memory."""
    for r in runs.values():
        for sample in r["batches"][: a.warmup]:
            timed_update(r, sample)
    for k in range(a.rounds):
        for r in runs.values():
            reset_peak_rss()
            for sample in r["batches"][a.warmup + k * a.updates: a.warmup + (k + 1) * a.updates]:
                r["times"].append(timed_update(r, sample))
            r["rss"] = max(r["rss"], status_mb("VmHWM"))


def update_time_report(runs, a):
    """The machine, the settings and each configuration's median update time against plain's."""
    import torch  # late: torch: start-up time

    plain = statistics.median(runs["plain"]["times"])
    report = {"machine": f"{os.cpu_count()} cpu, torch threads {torch.get_num_threads()}", "batch_size": a.batch_size,
              "model_dir": a.model_dir, "augmentation": a.augmentation, "updates_per_config": a.updates * a.rounds,
              "configs": {}}
    for name, r in runs.items():
        med = statistics.median(r["times"])
        report["configs"][name] = {"median_update_s": med, "examples_per_s": a.batch_size / med,
                                   "ratio_to_plain": med / plain, "peak_rss_mb": r["rss"]}
    return report


def augmentation_throughput(task, a, report):
    """Examples per second of making views on one core, and its share of an R1 update."""

    ds = task.dataset("train").dataset
    out = {}
    for kind in ("ss", "cs"):
        if kind == "cs" and not a.code_switch_dicts:
            continue
        maker = task.view_maker(kind, ds.examples)
        n = min(len(ds.examples), 300)
        start = time.perf_counter()
        for i in range(n):
            maker(ds.examples[i], ds.originals[i], np.random.default_rng([1, 1, i, 1]))
        per_s = n / (time.perf_counter() - start)
        train_per_s = report["configs"]["r1"]["examples_per_s"]
        out[kind] = {"examples_per_s": per_s, "share_of_r1_step": train_per_s / per_s}
    return out


def table(report):
    lines = ["| config | median update (s) | examples/s | x plain | peak RSS (MB) |", "|---|---|---|---|---|"]
    for name, c in report["configs"].items():
        lines.append(f"| {name} | {c['median_update_s']:.3f} | {c['examples_per_s']:.1f} | "
                     f"{c['ratio_to_plain']:.2f} | {c['peak_rss_mb']:.0f} |")
    for kind, t in report["augmentation_throughput"].items():
        lines.append(f"\naugmentation {kind}: {t['examples_per_s']:.0f} examples/s, "
                     f"{100 * t['share_of_r1_step']:.1f}% of an R1 update's time if done inline")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="XLM-R-format model directory")
    p.add_argument("--data", required=True, help="xtune-preprocess output")
    p.add_argument("--augmentation", default="ss", choices=["ss", "cs", "gn", "mt"], help="A and A' of the runs")
    p.add_argument("--code-switch-dicts", default="", help="comma-separated en-XX.txt dictionaries (the code-switch rows)")
    p.add_argument("--batch-size", type=int, default=32, help="rows per batch")
    p.add_argument("--max-positions", type=int, default=64, help="tokens per input")
    p.add_argument("--updates", type=int, default=3, help="updates per configuration per round")
    p.add_argument("--rounds", type=int, default=3, help="rounds of timed updates per configuration, interleaved")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up updates first")
    add_report_flags(p)
    a = p.parse_args(argv)
    return report_cli(a, lambda: bench(a), table)


if __name__ == "__main__":
    raise SystemExit(main())
