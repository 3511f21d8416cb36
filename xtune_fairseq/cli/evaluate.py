"""xtune-evaluate: per-language scores of one or more checkpoints on a split, with the average
over languages and the cross-lingual transfer gap, as JSON and a markdown table.

Classification: accuracy. Tagging: token accuracy (POS) or entity-level F1 (BIO tags, NER);
`--metric auto` picks F1 when every tag is O, B-X or I-X. A word cut off by --max-positions
gets no prediction and counts as wrong (as O for F1)."""

import argparse
import json
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.errors import InputError
from xtune_fairseq.evaluation.entities import entity_f1, is_bio, token_accuracy
from xtune_fairseq.evaluation.metrics import markdown_table, per_language_accuracy, summarize
from xtune_fairseq.files import atomic_open


def predict(checkpoint: str, data: str, split: str = "test", batch_size: int = 64):
    """(task, langs, predictions, golds) of a checkpoint on a split of an xtune-preprocess directory:
    label indices (classification) or lists of tag names per sentence (tagging)."""
    import torch
    from fairseq import checkpoint_utils

    import xtune_fairseq.register  # noqa: F401
    from xtune_fairseq.checkpoints import load_fairseq_checkpoint

    state = load_fairseq_checkpoint(checkpoint)
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [checkpoint], arg_overrides={"data": data}, state=state
    )
    model = models[0].eval()
    task.load_dataset(split)
    dataset = task.dataset(split)
    itr = task.get_batch_iterator(dataset, max_sentences=batch_size, ignore_invalid_inputs=False,
                                  num_workers=0).next_epoch_itr(shuffle=False)
    sentences = getattr(dataset, "dataset", dataset).examples
    langs, preds, golds = [], [], []
    with torch.inference_mode():
        for sample in itr:
            logits, valid = task.predictions(model, sample["net_input"])
            best = logits.argmax(-1)
            langs += [task.languages[i] for i in sample["lang"].tolist()]
            if task.kind == "classification":
                preds += best[:, 0].tolist()
                golds += sample["target"].tolist()
                continue
            for row, index in enumerate(sample["id"].tolist()):
                sentence = sentences[index]
                preds.append([task.label_names[best[row, w]] if w < valid.size(1) and valid[row, w] else None
                              for w in range(len(sentence.words))])
                golds.append(list(sentence.tags))
    return task, langs, preds, golds


METRICS = ("auto", "accuracy", "f1")


def score(task, langs, preds, golds, metric: str = "auto"):
    """Per-language score and the metric's name."""
    if task.kind == "classification":
        return per_language_accuracy(langs, preds, golds), "accuracy"
    if metric == "auto":
        metric = "f1" if is_bio(task.label_names) else "accuracy"
    by_lang = {}
    for lang, p, g in zip(langs, preds, golds):
        by_lang.setdefault(lang, ([], []))
        by_lang[lang][0].append(g)
        by_lang[lang][1].append(p)
    if metric == "f1":
        out = {l: entity_f1(g, [[t or "O" for t in s] for s in p])["f1"] for l, (g, p) in sorted(by_lang.items())}
        return out, "entity F1"
    return {l: token_accuracy(g, p) for l, (g, p) in sorted(by_lang.items())}, "token accuracy"


def evaluate(checkpoints, data, split="test", source="en", batch_size=64, metric="auto"):
    results = {}
    for spec in checkpoints:
        name, path = spec.split("=", 1) if "=" in spec else (os.path.basename(os.path.dirname(spec)) or spec, spec)
        scores, metric_name = score(*predict(path, data, split, batch_size), metric=metric)
        results[name] = summarize(scores, source)
        results[name]["metric"] = metric_name
        results[name]["checkpoint"] = os.path.abspath(path)
        results[name]["split"] = split
    return results


def write_outputs(results, json_path=None, markdown_path=None):
    table = markdown_table(results, next(iter(results.values())).get("metric", "accuracy"))
    for path, text in ((json_path, json.dumps(results, indent=1)), (markdown_path, table)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_open(path) as f:
                f.write(text + "\n")
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", action="append", required=True,
                   help="checkpoint to score, optionally NAME=PATH; repeat to compare runs")
    p.add_argument("--data", required=True, help="xtune-preprocess output directory")
    p.add_argument("--split", default="test")
    p.add_argument("--source-lang", default="en", help="language the gap is measured from")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--metric", choices=METRICS, default="auto",
                   help="tagging: token accuracy or entity F1 (auto: F1 for BIO tag sets)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write the table here")
    args = p.parse_args(argv)

    def go():
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: data directory not found")
        results = evaluate(args.checkpoint, args.data, args.split, args.source_lang, args.batch_size, args.metric)
        print(write_outputs(results, args.json, args.markdown))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
