"""The translate-train table at XNLI's size (python -m xtune_fairseq.bench.translations).

XNLI's translate-train set has 392,702 English pairs x 14 languages, about 5.5M rows. For each
size this writes meta/translations.jsonl rows of that shape (a pair of 20-30 word sentences, one
row per id and language) and measures, each way of holding them in its own process:
  dict       {id: [Example]}: the table as Python objects (before the memory-mapped table)
  mmap       TranslationTable: the file memory-mapped, byte ranges grouped by id (training's now)
the wall and CPU time to load, the growth of the process's own (anonymous) memory, its resident
file pages (the mapped file: page cache, shared by every process) and its peak RSS, the CPU time per MT draw
(one translation of a random id, as the MT view reads it), and the private memory (USS) of a
forked process after it drew one translation for every id: what each loader worker would copy.
"""

import argparse
import gc
import json
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np

from xtune_fairseq.bench.process_memory import smaps_mb, status_mb
from xtune_fairseq.cli.common import add_report_flags, check_report_out, run_cli, write_report
from xtune_fairseq.core.data.prepared import read_examples, read_translation_table
from xtune_fairseq.core.data.readers import translation_table

LANGS = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
HOLDERS = ("dict", "mmap")


def write_translations(path, n_ids, per_id, seed=1, chunk=20000, vocab_size=20000):
    """n_ids x per_id rows, grouped by id as xtune-preprocess writes them; words of 2-10 letters."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzäéñöü"))
    vocab = np.array(["".join(rng.choice(letters, size=rng.integers(2, 11))) for _ in range(vocab_size)], dtype=object)
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n_ids, chunk):
            n = min(chunk, n_ids - start) * per_id
            lens = rng.integers(20, 31, size=2 * n)
            words = np.split(vocab[rng.integers(vocab_size, size=int(lens.sum()))], np.cumsum(lens)[:-1])
            sents = [" ".join(w) + "." for w in words]
            f.writelines(json.dumps({"id": f"train-{start + i // per_id}", "lang": LANGS[i % per_id % len(LANGS)],
                                     "texts": [sents[2 * i], sents[2 * i + 1]], "label": None},
                                    ensure_ascii=False) + "\n" for i in range(n))
    return path


def load(path, holder):
    return translation_table(read_examples(path)) if holder == "dict" else read_translation_table(path)


def _draw(table, ids, rng):
    """One translation of each id, drawn as the MT view draws it."""
    for i in ids:
        group = table[i]
        group[int(rng.integers(len(group)))]


def _draw_all(table, ids, out):
    """In a forked child: one translation of every id (an MT epoch's reads), then its private memory."""
    _draw(table, ids, np.random.default_rng(0))
    out.put(smaps_mb()["uss"])


def measure(path, holder, n_ids, draws=20000):
    gc.collect()
    before, start_cpu, start = status_mb("RssAnon"), time.process_time(), time.perf_counter()
    table = load(path, holder)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    gc.collect()
    out = {"holder": holder, "rows": sum(1 for _ in open(path, "rb")), "ids": len(table),
           "load_wall_s": wall, "load_cpu_s": cpu, "anon_growth_mb": status_mb("RssAnon") - before,
           "file_rss_mb": status_mb("RssFile")}
    rng = np.random.default_rng(1)
    ids = [f"train-{i}" for i in rng.integers(n_ids, size=draws)]
    start = time.process_time()
    _draw(table, ids, rng)
    out["draw_us"] = (time.process_time() - start) / draws * 1e6
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_draw_all, args=(table, [f"train-{i}" for i in range(n_ids)], queue))
    child.start()
    out["worker_uss_mb"] = queue.get()
    child.join()
    out["peak_rss_mb"] = status_mb("VmHWM")
    return out


def table(results):
    lines = ["| rows (ids) | held as | load wall (CPU) s | own memory growth MB | resident file pages MB | peak RSS MB | "
             "CPU µs per MT draw | forked worker's private MB after an epoch of draws |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']:,} ({r['ids']:,}) | {r['holder']} | {r['load_wall_s']:.1f} ({r['load_cpu_s']:.1f}) | "
                     f"{r['anon_growth_mb']:.0f} | {r['file_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['draw_us']:.0f} | {r['worker_uss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ids", default="10000,100000,392702", help="training ids (source pairs) per measurement")
    p.add_argument("--per-id", type=int, default=14, help="translations of each id (XNLI: 14 languages)")
    p.add_argument("--holders", default="dict,mmap", help=f"of {','.join(HOLDERS)}")
    p.add_argument("--work", default="bench-translations", help="folder for the generated files (deleted after)")
    add_report_flags(p)
    p.add_argument("--child", nargs=3, metavar=("PATH", "HOLDER", "IDS"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    def go():
        if a.child:  # one measurement in a fresh process: its peak RSS is this holder's alone
            return print(json.dumps(measure(a.child[0], a.child[1], int(a.child[2]))))

        check_report_out(a)
        os.makedirs(a.work, exist_ok=True)
        results = []
        for n in (int(s) for s in a.ids.split(",")):
            path = write_translations(os.path.join(a.work, f"translations-{n}.jsonl"), n, a.per_id)
            for holder in a.holders.split(","):
                text = subprocess.run([sys.executable, "-m", "xtune_fairseq.bench.translations", "--child", path,
                                       holder, str(n)], check=True, capture_output=True, text=True).stdout
                results.append(json.loads(text.strip().splitlines()[-1]))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            os.remove(path)
        write_report(a, results)
        print(table(results))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
