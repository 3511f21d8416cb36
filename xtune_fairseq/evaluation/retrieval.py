"""Cross-lingual sentence retrieval (the paper's Table 5): the mean of one layer's hidden states as
the sentence vector, top-1 accuracy by cosine in both directions, over parallel sentence pairs read
from TSV files, line-aligned files or Bible verses. numpy, torch and fairseq are imported when the models
are read, not with this module: xtune-retrieval's --help and its errors about the parallel data stay fast."""

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.text import open_text
from xtune_fairseq.corpora.resources import fetch_bible
from xtune_fairseq.evaluation.encoders import load_encoder

Pairs = List[Tuple[str, str]]


def read_parallel_tsv(path: str) -> Pairs:
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


def read_line_aligned(src: str, tgt: str) -> Pairs:
    with open_text(src, "UTF-8 text, one sentence a line") as f:
        a = [x.rstrip("\n") for x in f]
    with open_text(tgt, "UTF-8 text, one sentence a line") as f:
        b = [x.rstrip("\n") for x in f]
    if len(a) != len(b):
        raise InputError(f"{src} has {len(a)} lines but {tgt} has {len(b)}: files must be line-aligned")
    return list(zip(a, b))


def parallel_sets(parallel: Sequence[str] = (), src: Optional[str] = None, tgt: Optional[str] = None,
                  bible: int = 0, bible_langs: Sequence[str] = ("de", "fr", "es"),
                  cache: str = "cache") -> Dict[str, Pairs]:
    """{name: sentence pairs}: each TSV of `parallel` (named by its file), the line-aligned src and tgt
    files, and `bible` verse-aligned Bible verses per language of bible_langs (fetched into cache)."""
    pair_sets = {os.path.splitext(os.path.basename(x))[0]: read_parallel_tsv(x) for x in parallel}
    if src or tgt:
        if not (src and tgt):
            raise InputError("--src and --tgt go together")
        pair_sets[f"{os.path.basename(src)}-{os.path.basename(tgt)}"] = read_line_aligned(src, tgt)
    if bible:
        for path in fetch_bible(cache, list(bible_langs), bible):
            pair_sets[os.path.splitext(os.path.basename(path))[0]] = read_parallel_tsv(path)
    if not pair_sets:
        raise InputError("no parallel data: give --parallel, --src/--tgt or --bible N")
    return pair_sets


def retrieval_table(models: Union[Mapping[str, str], Sequence[str]], pair_sets: Mapping[str, Pairs], layer: int,
                    data: Optional[str] = None) -> Dict[str, dict]:
    """{model: {pair set: {"src->tgt", "tgt->src": top-1 accuracy (%), "pairs"}}}. models: {name: path}
    or NAME=PATH / PATH specs (a model directory or a checkpoint); data: the data directory of
    checkpoints whose training data moved."""
    if isinstance(models, str):
        raise TypeError(f"models: expected {{name: path}} or a list of NAME=PATH specs, not the str {models!r}")
    from xtune_fairseq.core.metrics.retrieval import top1_accuracy  # here: see the module's docstring

    named = models.items() if isinstance(models, Mapping) else \
        [spec.split("=", 1) if "=" in spec else (spec, spec) for spec in models]
    results = {}
    for name, path in named:
        enc = load_encoder(path, data)
        results[name] = {}
        for pair_name, pairs in pair_sets.items():
            src = enc.sentence_vectors([p[0] for p in pairs], layer)
            tgt = enc.sentence_vectors([p[1] for p in pairs], layer)
            fwd, bwd = top1_accuracy(src, tgt)
            results[name][pair_name] = {"src->tgt": fwd, "tgt->src": bwd, "pairs": len(pairs)}
    return results


def retrieval_markdown(results: Mapping[str, dict], layer: int) -> str:
    pairs = list(next(iter(results.values())))
    head = ["model"] + [f"{p} {d}" for p in pairs for d in ("->", "<-")]
    lines = [f"top-1 retrieval accuracy (%), layer {layer} mean-pooled, cosine", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        lines.append("| " + " | ".join([name] + [f"{r[p][d]:.1f}" for p in pairs for d in ("src->tgt", "tgt->src")]) + " |")
    return "\n".join(lines) + "\n"


def write_results(results: Mapping[str, dict], path: str) -> None:
    """retrieval_table()'s results as JSON."""
    with atomic_open(path) as f:
        json.dump(results, f, indent=1)
