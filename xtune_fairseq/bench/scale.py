"""How xtune-preprocess and stage 2 grow with the corpus (python -m xtune_fairseq.bench.scale).

For each size it writes an XNLI-shaped training set (sentence pairs of 20-30 English words each,
three labels) whose words are the English headwords of the code-switch dictionaries, drawn with
Zipf frequencies (short words common, as in real text), so code-switching finds entries and subword
sampling sees a realistic spread of words. It then measures, each in a fresh process:
  preprocess   xtune-preprocess's wall and CPU time and peak RSS (os.wait4 of the subprocess)
  stage 2      the growth of RSS when the task loads D + A(D) as fairseq-train does
               (--data-augmentation X --r1-augmentation X), and the CPU time of one epoch of views:
               every row's input and R1 partner, all rows (--sample-rows 0) or a sample spread over
               the epoch after as many rows of warm-up, extrapolated (draw_epoch); or, with
               --workers W, the private memory of each of fairseq's W loader workers after part of an
               epoch (worker_memory): what each worker holds that forked processes do not share
"""

import argparse
import gc
import json
import os
import re
import shutil
import sys
import time

import numpy as np

from xtune_fairseq.bench.process_memory import child_pids, run_measured, smaps_mb, status_mb
from xtune_fairseq.cli.common import add_report_flags, check_report_out, run_cli, write_report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABELS = ("entailment", "neutral", "contradiction")
_WORD = re.compile(r"[a-z]+")


def english_words(dict_paths):
    """Single-word English headwords, most frequent first: those every dictionary has (common words),
    then shorter before longer (Zipf's law of abbreviation)."""
    keys = []
    for path in dict_paths:
        with open(path, encoding="utf-8-sig") as f:
            keys.append({w for w in (line.split(None, 1)[0].lower() for line in f if line.strip()) if _WORD.fullmatch(w)})
    union = sorted(set().union(*keys))
    shared = set.intersection(*keys)
    return sorted(union, key=lambda w: (w not in shared, len(w)))


def write_pairs(path, n_rows, words, seed=1, length=(20, 30), chunk=20000):
    """An XNLI-like TSV (id, lang, sentence1, sentence2, label): sentences of `length` words (inclusive
    range), capitalised, with a full stop, words drawn with p(rank r) ~ 1/r."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    vocab = np.array(words, dtype=object)
    with open(path, "w", encoding="utf-8") as f:
        f.write("id\tlang\tsentence1\tsentence2\tlabel\n")
        for start in range(0, n_rows, chunk):
            n = min(chunk, n_rows - start)
            lens = rng.integers(length[0], length[1] + 1, size=2 * n)
            drawn = vocab[rng.choice(len(words), size=int(lens.sum()), p=p)]
            cuts = np.cumsum(lens)[:-1]
            sents = [" ".join(s) for s in np.split(drawn, cuts)]
            sents = [s[:1].upper() + s[1:] + "." for s in sents]
            labels = rng.integers(len(LABELS), size=n)
            f.writelines(f"train-{start + i}\ten\t{sents[2 * i]}\t{sents[2 * i + 1]}\t{LABELS[labels[i]]}\n"
                         for i in range(n))
    return path


def write_translations(train_tsv, path, per_pair):
    """A translate-train TSV: each training pair's sentences again under per_pair language codes (the
    text's length is what preprocessing's memory sees)."""
    with open(train_tsv, encoding="utf-8") as f, open(path, "w", encoding="utf-8") as out:
        out.write("id\tlang\tsentence1\tsentence2\n")
        next(f)
        for line in f:
            ex_id, _, s1, s2, _ = line.rstrip("\n").split("\t")
            out.writelines(f"{ex_id}\tx{k}\t{s1}\t{s2}\n" for k in range(per_pair))
    return path


def stage2(data, model_dir, dicts, augmentation, sample, max_positions, seed=1, workers=0, fraction=0.5):
    """In this process: RSS growth (and CPU seconds) of loading D + A(D), then one epoch of views
    (draw_epoch) or, with workers, the loader workers' private memory (worker_memory)."""

    from fairseq import options, tasks  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    argv = [data, "--user-dir", os.path.join(ROOT, "user_dir"), "--task", "xtune_classification",
            "--arch", "xlmr_xtune", "--pretrained-dir", model_dir, "--criterion", "xtune_consistency",
            "--data-augmentation", augmentation, "--r1-augmentation", augmentation, "--cpu",
            "--max-positions", str(max_positions), "--seed", str(seed)]
    if augmentation == "cs":
        argv += ["--code-switch-dicts", dicts]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    gc.collect()
    before = status_mb()
    start = time.process_time()
    ds = task.load_dataset("train")
    load_s = time.process_time() - start
    gc.collect()
    loaded = status_mb()
    out = {"rows": len(ds), "rss_before_mb": before, "rss_growth_mb": loaded - before, "load_s": load_s}
    # the workers fork from a process whose caches are still cold, as in fairseq-train
    out.update(worker_memory(task, ds, workers, fraction, seed) if workers else draw_epoch(ds, sample))
    return dict(out, rss_after_views_mb=status_mb())


def draw_epoch(ds, sample):
    """CPU seconds of one epoch of views (each row's input and R1 partner, as training asks for them).
    All rows in order when sample is 0 or covers the epoch; else `sample` rows spread evenly over it,
    timed after as many other rows warmed the view caches (a whole epoch runs warm but for its start),
    and extrapolated. CPU time: on a shared machine the wall clock counts other processes' turns."""
    ds.set_epoch(1)
    if 0 < sample < len(ds) // 2:
        step = len(ds) / sample
        for i in (np.arange(sample) * step + step / 2).astype(np.int64):  # warm-up: the rows between
            ds[int(i)]
        rows = (np.arange(sample) * step).astype(np.int64)
    else:
        rows = np.arange(len(ds))
    start = time.process_time()
    tokens = sum(int(ds[int(i)]["partner"].numel()) for i in rows)
    cpu = time.process_time() - start
    return {"timed_rows": len(rows), "epoch_cpu_s": cpu * len(ds) / len(rows), "rows_per_cpu_s": len(rows) / cpu,
            "partner_tokens_mean": tokens / len(rows)}


def worker_memory(task, ds, workers, fraction, seed, batch_size=32):
    """Iterate `fraction` of epoch 1 through fairseq's batch iterator with `workers` loader processes
    (--num-workers), then read each worker's smaps_rollup while it is still alive."""
    others = set(child_pids())  # e.g. a test's earlier loaders
    itr = task.get_batch_iterator(ds, max_sentences=batch_size, seed=seed, num_workers=workers, epoch=1,
                                  ignore_invalid_inputs=True, disable_iterator_cache=True)
    epoch = itr.next_epoch_itr(shuffle=True)
    batches = int(len(epoch) * fraction)
    start = time.perf_counter()
    for _ in range(batches):
        next(epoch)
    wall = time.perf_counter() - start
    each = [smaps_mb(pid) for pid in child_pids() if pid not in others]
    return {"workers": len(each), "batches": batches, "epoch_fraction": fraction, "iterate_wall_s": wall,
            "worker_uss_mb": [w["uss"] for w in each], "worker_dirty_mb": [w["Private_Dirty"] for w in each],
            "worker_pss_mb": [w["Pss"] for w in each],
            "worker_rss_mb": [w["Rss"] for w in each], "main": smaps_mb(os.getpid())}


def measure_size(n, a, words):
    """One size: the corpus, preprocess, then stage 2 for each augmentation, each in its own process."""
    work = os.path.join(a.work, f"n{n}")
    os.makedirs(work, exist_ok=True)
    tsv = write_pairs(os.path.join(work, "train.tsv"), n, words, seed=a.seed)
    dest = os.path.join(work, "bin")
    cmd = [sys.executable, "-m", "xtune_fairseq.cli.preprocess", "--model-dir", a.model_dir, "--train", tsv,
           "--out", dest, "--force"]
    if a.translations_per_pair:
        cmd += ["--translations", write_translations(tsv, os.path.join(work, "translations.tsv"), a.translations_per_pair)]
    wall, cpu, rss, _ = run_measured(cmd)
    out = {"rows": n, "translations": n * a.translations_per_pair, "preprocess_s": wall, "preprocess_cpu_s": cpu,
           "preprocess_peak_rss_mb": rss}
    for aug in _augmentations(a):
        _, _, peak, text = run_measured([sys.executable, "-m", "xtune_fairseq.bench.scale", "--stage2", dest,
                                      "--model-dir", a.model_dir, "--code-switch-dicts", a.code_switch_dicts,
                                      "--augmentations", aug, "--sample-rows", str(a.sample_rows),
                                      "--max-positions", str(a.max_positions), "--workers", str(a.workers),
                                      "--worker-fraction", str(a.worker_fraction)])
        out[aug] = dict(json.loads(text.strip().splitlines()[-1]), peak_rss_mb=peak)
    if not a.keep:
        shutil.rmtree(work)
    return out


def table(results, augmentations, workers=0):
    last = ["private MB per worker"] if workers else ["epoch of views (CPU s)", "rows/s"]
    cols = ["D + A(D) rows", "load RSS growth (MB)"] + last
    head = "| rows | preprocess wall (CPU) s | preprocess peak RSS (MB) |"
    head += "".join(f" {aug}: {c} |" for aug in augmentations for c in cols)
    lines = [head, "|---|---|---|" + "---|" * len(cols) * len(augmentations)]
    for r in results:
        rows = f"{r['rows']:,}" + (f" + {r['translations']:,} translations" if r.get("translations") else "")
        line = f"| {rows} | {r['preprocess_s']:.0f} ({r['preprocess_cpu_s']:.0f}) | {r['preprocess_peak_rss_mb']:.0f} |"
        for aug in augmentations:
            s = r[aug]
            line += f" {s['rows']:,} | {s['rss_growth_mb']:.0f} |"
            line += (f" {', '.join(f'{m:.0f}' for m in s['worker_uss_mb'])} |" if workers else
                     f" {s['epoch_cpu_s']:.0f} | {s['rows_per_cpu_s']:.0f} |")
        lines.append(line)
    return "\n".join(lines)


def _augmentations(a):
    return [x for x in a.augmentations.split(",") if x != "none"]


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="XLM-R-format directory (dict.txt, sentencepiece.bpe.model)")
    p.add_argument("--code-switch-dicts", required=True, help="comma-separated en-XX.txt: the corpus's words and cs")
    p.add_argument("--sizes", default="10000,100000,400000", help="training rows (sentence pairs) per measurement")
    p.add_argument("--augmentations", default="cs,ss", help="A = A' of the stage-2 measurements (none: only preprocess)")
    p.add_argument("--translations-per-pair", type=int, default=0,
                   help="also preprocess a translate-train file of this many rows per pair (XNLI: 14)")
    p.add_argument("--sample-rows", type=int, default=4000, help="rows whose views are timed (0: all)")
    p.add_argument("--max-positions", type=int, default=256)
    p.add_argument("--workers", type=int, default=0,
                   help="instead of timing views: fork this many fairseq loader workers and report their private memory")
    p.add_argument("--worker-fraction", type=float, default=0.5, help="part of the epoch the workers load first")
    p.add_argument("--work", default="bench-scale", help="folder for the generated corpora and data")
    p.add_argument("--keep", action="store_true", help="keep each size's corpus and data")
    p.add_argument("--seed", type=int, default=1)
    add_report_flags(p)
    p.add_argument("--stage2", metavar="DATA", help=argparse.SUPPRESS)  # the child process's mode
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)

    def go():
        if a.stage2:
            return print(json.dumps(stage2(a.stage2, a.model_dir, a.code_switch_dicts, a.augmentations,
                                           a.sample_rows, a.max_positions, a.seed, a.workers,
                                           a.worker_fraction)))
        check_report_out(a)
        words = english_words(a.code_switch_dicts.split(","))
        results = []
        for n in (int(s) for s in a.sizes.split(",")):
            results.append(measure_size(n, a, words))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        write_report(a, results)
        print(table(results, _augmentations(a), a.workers))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
