"""Drawing views against a GPU step (python -m xtune_fairseq.bench.augment).

An XLM-R base update of batch 32 at 128 tokens takes about 0.1 s on a current GPU; the views of
its rows (32 inputs and 32 R1 partners when every row is augmented) are drawn by the data loader
in front of it. This measures, on sentence pairs of about 128 tokens and the given model's real
tokenizer:
  views/s    per augmentation (subword sampling, code-switch, translation choice), made by the
             task's own ViewMaker with the dataset's generators (seed, epoch, row, stream); a first
             pass over the rows (cold caches) and a second one (what the rest of an epoch sees)
  loader     seconds per training batch through the task's batch iterator (stage 2: D + A(D), A = A'
             = the augmentation, views drawn and collated) with --num-workers 0 and N
and prints each as a share of a --step-s update.
"""

import argparse
import json
import os
import sys
import tempfile
import time


from xtune_fairseq.bench.scale import english_words, write_pairs
from xtune_fairseq.cli.common import add_report_flags, report_cli
from xtune_fairseq.prepare import preprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ("ss", "cs", "mt")


def write_translations(tsv, out, dict_path):
    """A translate-train file whose 'translation' is each word's first dictionary entry (German-like
    text of the same length: only the choice and encoding of a fixed view are timed)."""
    table = {}
    with open(dict_path, encoding="utf-8-sig") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t") if "\t" in line else line.split()
            if len(fields) == 2:
                table.setdefault(fields[0].lower(), fields[1])
    with open(tsv, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        dst.write("id\tlang\tsentence1\tsentence2\n")
        for row in list(src)[1:]:
            ex_id, _, s1, s2, _ = row.rstrip("\n").split("\t")
            texts = [" ".join(table.get(w.lower(), w) for w in s.split()) for s in (s1, s2)]
            dst.write(f"{ex_id}\tde\t{texts[0]}\t{texts[1]}\n")
    return out


def build_task(data, a, kind):
    from fairseq import options, tasks  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    argv = [data, "--user-dir", os.path.join(ROOT, "user_dir"), "--task", "xtune_classification", "--arch",
            "xlmr_xtune", "--criterion", "xtune_consistency", "--data-augmentation", kind, "--r1-augmentation",
            kind, "--code-switch-dicts", a.code_switch_dicts, "--max-positions", "256", "--cpu", "--seed", "1"]
    task = tasks.setup_task(convert_namespace_to_omegaconf(
        options.parse_args_and_arch(options.get_training_parser(), argv)).task)
    task.load_dataset("train")
    return task


def views_per_s(task, kind):
    """Views per CPU second of the task's ViewMaker for `kind`, as the dataset calls it (its generator
    made from (seed, epoch, row, stream) included): [first pass, second pass], mean tokens. CPU time,
    not wall time: on a shared machine the wall clock also counts the other processes' turns."""
    ds = task.dataset("train").dataset
    maker = task.view_maker(kind, ds.examples)
    n = len(ds.examples)
    rates, tokens = [], 0
    for epoch in (1, 2):
        ds.set_epoch(epoch)
        start = time.process_time()
        made = [maker(ds.examples[i], ds.originals[i], ds.rng(i, 1)) for i in range(n)]
        rates.append(n / (time.process_time() - start))
        tokens = sum(len(v.ids) for v in made) / n
    return rates, tokens


def loader_s_per_batch(task, workers, batch_size):
    """Wall seconds per batch of one training epoch through fairseq's iterator (worker start included;
    with workers the views are drawn in other processes, so only the wall clock sees them)."""
    ds = task.dataset("train")
    itr = task.get_batch_iterator(ds, max_sentences=batch_size, seed=1, num_workers=workers, epoch=1,
                                  disable_iterator_cache=True).next_epoch_itr(shuffle=True)
    start = time.perf_counter()
    n = sum(1 for _ in itr)
    return (time.perf_counter() - start) / n


def bench(a):
    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    report = {"rows": a.rows, "step_s": a.step_s, "batch_size": a.batch_size, "cpus": os.cpu_count(), "kinds": {}}
    with tempfile.TemporaryDirectory(prefix="xtune-bench-augment-") as work:
        data = make_data(a, work)
        for kind in a.kinds.split(","):
            task = build_task(data, a, kind)
            rates, tokens = views_per_s(task, kind)
            per_step = 2 * a.batch_size / rates[1]  # inputs and partners of a batch of augmented rows
            loader = {w: loader_s_per_batch(task, w, a.batch_size) for w in map(int, a.num_workers.split(","))}
            report["kinds"][kind] = {"views_per_s_cold": rates[0], "views_per_s": rates[1],
                                     "tokens_per_view": tokens, "step_share": per_step / a.step_s,
                                     "loader_s_per_batch": loader}
            print(json.dumps({kind: report["kinds"][kind]}), file=sys.stderr, flush=True)
    return report


def make_data(a, work):
    """Sentence pairs of a.words words per sentence, their pseudo-translations, preprocessed."""

    dicts = a.code_switch_dicts.split(",")
    tsv = write_pairs(os.path.join(work, "train.tsv"), a.rows, english_words(dicts), seed=a.seed, length=a.words)
    trans = write_translations(tsv, os.path.join(work, "translations.tsv"), dicts[0])
    return preprocess(a.model_dir, os.path.join(work, "bin"), tsv, translations=trans)


def table(report):
    workers = sorted({w for k in report["kinds"].values() for w in k["loader_s_per_batch"]})
    head = ("| augmentation | tokens/view | views/s (1st pass) | views/s | 2 x 32 views, share of a "
            f"{report['step_s']} s step |")
    head += "".join(f" loader s/batch, {w} workers (share) |" for w in workers)
    lines = [head, "|---" * (5 + len(workers)) + "|"]
    for kind, k in report["kinds"].items():
        line = (f"| {kind} | {k['tokens_per_view']:.0f} | {k['views_per_s_cold']:,.0f} | {k['views_per_s']:,.0f} | "
                f"{100 * k['step_share']:.0f}% |")
        for w in workers:
            s = k["loader_s_per_batch"][w]
            line += f" {s:.4f} ({100 * s / report['step_s']:.0f}%) |"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="XLM-R-format directory (dict.txt, sentencepiece.bpe.model)")
    p.add_argument("--code-switch-dicts", required=True, help="comma-separated en-XX.txt: the words, cs, and (the "
                   "first one) the pseudo-translations of mt")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--rows", type=int, default=2000, help="sentence pairs")
    p.add_argument("--words", type=int, nargs=2, default=(32, 36), help="words per sentence (inclusive range)")
    p.add_argument("--num-workers", default="0,2", help="loader worker counts to time")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--step-s", type=float, default=0.1, help="the update time views are compared with")
    p.add_argument("--seed", type=int, default=1)
    add_report_flags(p)
    a = p.parse_args(argv)
    return report_cli(a, lambda: bench(a), table)


if __name__ == "__main__":
    raise SystemExit(main())
