"""xtune-gpu-check: does xTune train on this GPU, in half precision, and at what cost?

On a randomly initialised model with XLM-R base's shapes (12 layers, 768 hidden, 12 heads, 3072
FFN, 250,002 embeddings; nothing is downloaded), batches of --batch-size rows of --length tokens:
fairseq-train's update with --fp16 and with --bf16 for plain fine-tuning, R1, R2, R1 + R2 and
R1 + R2 with the cached teacher (xtune-bench's configurations): median seconds per update, ratio
to plain, peak GPU memory; every R1 / R2 term of those updates must be finite. Then the two-stage
pipeline end to end on a tiny model on the same device. One markdown table; exit 1 if a check
failed; without CUDA `skipped: no CUDA` and exit 0.

  scripts/gpu-check.sh                          # about 3 minutes on an H100
  scripts/gpu-check.sh --device cpu --tiny      # the same code path in seconds (tests)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

from xtune_fairseq.bench.gpu_timing import (PRECISION_FLAGS, kl_cell, kl_finite, same_batches, time_config,
                                            training_task, without_cache)
from xtune_fairseq.bench.suite import config_flags
from xtune_fairseq.cli.common import add_report_flags, check_report_out, run_cli, write_report
from xtune_fairseq.convert.fairseq_roberta import random_roberta, roberta_args
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.synthetic import generate
from xtune_fairseq.core.xlmr_dir import ARCH_KEYS, read_dict_pieces, write_model_dir
from xtune_fairseq.fairseq_wiring.checkpoints import checkpoint_state
from xtune_fairseq.prepare import build_tiny_model, preprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XLMR_BASE = {"layers": 12, "dim": 768, "heads": 12, "ffn": 3072, "vocab": 250002}
LABELS = {"plain": "plain fine-tuning", "r1": "R1", "r2": "R2", "r1+r2": "R1 + R2",
          "r1+r2 cached": "R1 + R2, cached teacher"}


def log(msg):
    print(f"[gpu-check] {msg}", file=sys.stderr, flush=True)


def base_shaped_model(out_dir, tiny_dir, shape=XLMR_BASE):
    """XLM-R base's shapes, random weights: the tiny model's sentencepiece, and dict.txt filled up with
    pieces it never produces, so that the embeddings and the output layer have XLM-R's rows."""

    pieces = read_dict_pieces(os.path.join(tiny_dir, "dict.txt"))
    pieces += [f"<xtune-unused-{i}>" for i in range(shape["vocab"] - 5 - len(pieces))]  # 4 specials, <mask>
    args = roberta_args(shape["layers"], shape["dim"], shape["heads"], shape["ffn"], 512, 1)
    model = random_roberta(args, pieces, 1)
    write_model_dir(out_dir, checkpoint_state(args, model.state_dict()),
                    os.path.join(tiny_dir, "sentencepiece.bpe.model"), pieces)
    return out_dir


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines("\t".join(r) + "\n" for r in rows)
    return path


def long_rows(train_tsv, out_tsv, n_rows, min_words):
    """n_rows training rows of at least min_words words (generated sentences joined), so that every
    row fills --length tokens after truncation."""
    header, *rows = read_tsv(train_tsv)
    out, k = [header], 0
    for i in range(n_rows):
        words = []
        while len(words) < min_words:
            words += rows[k % len(rows)][2].split()
            k += 1
        out.append([f"long-{i}", rows[i % len(rows)][1], " ".join(words), rows[i % len(rows)][-1]])
    return write_tsv(out_tsv, out)


def write_teacher(path, base_argv):
    """A stage-1-shaped checkpoint (the pretrained encoder and a new head) to serve as R2's teacher."""
    import torch  # late: torch: start-up time


    args, cfg, task = training_task(base_argv + ["--criterion", "sentence_prediction"])
    model = task.build_model(cfg.model)
    for key in ARCH_KEYS:  # the encoder's shape, which building the model read from --pretrained-dir
        if hasattr(cfg.model, key):
            setattr(args, key, getattr(cfg.model, key))
    state = checkpoint_state(args, model.state_dict())
    state["task_state"] = task.state_dict()
    torch.save(state, path)
    return path


def time_all(a, work, model_dir, data, cuda):
    """{precision: {configuration: its timing}} on rows of --length tokens."""

    dicts = f"{data['dict_de']},{data['dict_fr']}"
    rows = long_rows(data["train"], os.path.join(work, "long.tsv"), 2 * a.batch_size, a.length)
    bin_dir = preprocess(model_dir, os.path.join(work, "bin-long"), rows)
    base = [bin_dir, "--user-dir", os.path.join(ROOT, "user_dir"), "--task", "xtune_classification",
            "--arch", "xlmr_xtune", "--pretrained-dir", model_dir, "--max-positions", str(a.length),
            "--seed", "1", "--optimizer", "adam", "--lr", "1e-5", "--clip-norm", "1.0", "--batch-size",
            str(a.batch_size), "--num-workers", "0", "--save-dir", os.path.join(work, "save")] + ["--cpu"] * (not cuda)
    log("teacher checkpoint and teacher cache")
    teacher = write_teacher(os.path.join(work, "teacher.pt"), base)
    configs = config_flags(SimpleNamespace(augmentation=a.augmentation, code_switch_dicts=dicts, data=bin_dir), teacher)
    n = a.warmup + a.repeats * a.updates
    batches = same_batches(training_task(base + configs["r1+r2 cached"])[2], a.batch_size, n)
    online = [without_cache(b) for b in batches]
    out = {}
    for precision in a.precisions:
        out[precision] = {}
        for name, extra in configs.items():
            log(f"{precision} {name}")
            out[precision][name] = time_config(base + extra + PRECISION_FLAGS[precision],
                                               batches if name.endswith("cached") else online, cuda,
                                               a.warmup, a.repeats, a.updates)
    return out


def run_pipeline(work, tiny_dir, data, cuda, precision):
    """xtune-pipeline, both stages and evaluation, on a tiny model and a small generated data set."""

    splits = {s: write_tsv(os.path.join(work, f"small-{s}.tsv"), read_tsv(data[s])[: n + 1])
              for s, n in (("train", 150), ("valid", 30), ("test", 30))}  # dev/test rows: en, de, fr triples
    bin_dir = preprocess(tiny_dir, os.path.join(work, "bin-small"), splits["train"], splits["valid"], splits["test"])
    out = os.path.join(work, "pipeline")
    cmd = [sys.executable, "-m", "xtune_fairseq.cli.pipeline", "--model-dir", tiny_dir, "--data", bin_dir,
           "--out", out, "--recipe", "xnli", "--lr", "1e-3", "--epochs", "1", "--log-interval", "5",
           "--code-switch-dicts", f"{data['dict_de']},{data['dict_fr']}"]
    cmd += [f"--{precision}"] if cuda and precision != "fp32" else ["--cpu"] * (not cuda)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    seconds = time.perf_counter() - start
    results = os.path.join(out, "results.json")
    ok = proc.returncode == 0 and os.path.isfile(results) and set(json.load(open(results))) == {"stage1", "stage2"}
    if not ok:
        log("pipeline failed:\n" + (proc.stdout + proc.stderr)[-3000:])
    return {"ok": ok, "seconds": seconds, "precision": precision if cuda else "fp32"}


def device_name(cuda):
    import torch  # late: torch: start-up time

    if cuda:
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU, {os.cpu_count()} cores (torch {torch.__version__})"


def table(report):
    lines = [f"| {report['device']} | precision | s/update | x plain | peak GPU memory (GiB) | R1 / R2 terms |",
             "|---|---|---|---|---|---|"]
    for precision, runs in report["timings"].items():
        plain = runs["plain"]["s_per_update"]
        for name, r in runs.items():
            peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.1f}"
            note = kl_cell(r["terms"]) + (f"; {r['skipped_updates']} fp16 overflow skips" if r["skipped_updates"] else "")
            note += f"; error: {r['error']}" if r["error"] else ""
            lines.append(f"| {LABELS.get(name, name)} | {precision} | {r['s_per_update']:.4f} | "
                         f"{r['s_per_update'] / plain:.2f} | {peak} | {note} |")
    p = report.get("pipeline")
    if p:
        lines.append(f"| two-stage pipeline, tiny model | {p['precision']} | {p['seconds']:.0f} s in all | - | - | "
                     f"{'ok' if p['ok'] else '**FAILED**'} |")
    return "\n".join(lines)


def failed(report) -> bool:
    runs = [r for by_config in report["timings"].values() for r in by_config.values()]
    return (any(kl_finite(r["terms"]) is False or r["error"] for r in runs)
            or not report.get("pipeline", {"ok": True})["ok"])


def check(a, cuda):
    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xtune-gpu-check-") as work:
        data = generate(os.path.join(work, "data"), seed=1)
        tiny_dir = build_tiny_model(os.path.join(work, "tiny-model"), data["corpus"])
        log("model" if a.tiny else "random model with XLM-R base's shapes")
        model_dir = tiny_dir if a.tiny else base_shaped_model(os.path.join(work, "xlmr-base-shape"), tiny_dir)
        report = {"device": device_name(cuda), "timings": time_all(a, work, model_dir, data, cuda)}
        if not a.no_pipeline:
            log("two-stage pipeline")
            report["pipeline"] = run_pipeline(work, tiny_dir, data, cuda, a.precisions[0])
    report["seconds"] = time.perf_counter() - start
    return report


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--tiny", action="store_true", help="the tiny model instead of XLM-R base's shapes")
    p.add_argument("--precisions", help="comma-separated among fp16, bf16, fp32 (default: fp16,bf16 on CUDA; "
                   "bf16 on the CPU, where fairseq's fp16 optimizer does not run)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--length", type=int, default=128, help="tokens per row")
    p.add_argument("--augmentation", choices=["ss", "cs"], default="ss", help="A and A' of the R1 / R2 runs")
    p.add_argument("--warmup", type=int, default=2, help="untimed updates per configuration")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--updates", type=int, default=4, help="timed updates per repeat")
    p.add_argument("--no-pipeline", action="store_true")
    add_report_flags(p)
    a = p.parse_args(argv)
    a.precisions = (a.precisions or ("fp16,bf16" if a.device == "cuda" else "bf16")).split(",")
    if not a.precisions or set(a.precisions) - {"fp16", "bf16", "fp32"}:
        raise InputError(f"--precisions {','.join(a.precisions)}: expected fp16, bf16 or fp32")
    if a.device == "cpu" and "fp16" in a.precisions:
        raise InputError("--precisions fp16 needs CUDA (fairseq's FP16Optimizer)")
    if min(a.batch_size, a.length, a.repeats, a.updates) < 1 or a.warmup < 0:
        raise InputError("--batch-size, --length, --repeats and --updates must be >= 1, --warmup >= 0")
    return a


def main(argv=None):
    code = 0

    def go():
        nonlocal code
        import torch  # late: torch: start-up time

        a = parse(argv)
        check_report_out(a)
        if a.device == "cuda" and not torch.cuda.is_available():
            print("skipped: no CUDA")
            return
        report = check(a, a.device == "cuda")
        write_report(a, report)
        print(table(report))
        print(f"\n{report['seconds']:.0f} s in all")
        code = 1 if failed(report) else 0

    return run_cli(go) or code


if __name__ == "__main__":
    raise SystemExit(main())
