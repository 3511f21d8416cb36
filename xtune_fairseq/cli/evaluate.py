"""xtune-evaluate: per-language scores of one or more checkpoints on a split, with the average
over languages and the cross-lingual transfer gap, as JSON and a markdown table.

Classification: accuracy. Tagging: token accuracy (POS) or entity-level F1 (BIO tags, NER);
`--metric auto` picks F1 when every tag is O, B-X or I-X. A word cut off by --max-positions
gets no prediction and counts as wrong (as O for F1). QA (span extraction): every window through
the model, spans merged per question (n-best, --n-best-size / --max-answer-length of the
checkpoint's task), F1 per language with SQuAD v1.1's normalisation (`--metric squad`, the
default) or MLQA's language-aware one (`--metric mlqa`); exact match is in the JSON too."""

import argparse
import json
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.metrics.entities import entity_f1, tagging_metric, token_accuracy
from xtune_fairseq.core.metrics.metrics import markdown_table, per_language_accuracy, summarize
from xtune_fairseq.core.files import atomic_open, check_output_file
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output
from xtune_fairseq.core.qa import metrics as qa_metrics


def predict(checkpoint: str, data: str, split: str = "test", batch_size: int = 64):
    """(task, langs, predictions, golds) of a checkpoint on a split of an xtune-preprocess directory:
    label indices (classification), lists of tag names per sentence (tagging), or answer texts
    per question with the QAExamples as golds (qa)."""
    import torch

    import xtune_fairseq.fairseq_wiring.register  # noqa: F401
    from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data

    model, task = load_with_data(checkpoint, data)
    task.load_dataset(split)
    dataset = task.dataset(split)
    itr = task.get_batch_iterator(dataset, max_sentences=batch_size, ignore_invalid_inputs=False,
                                  num_workers=0).next_epoch_itr(shuffle=False)
    sentences = getattr(dataset, "dataset", dataset).examples
    if task.kind == "qa":
        return (task,) + _predict_answers(task, model, itr, getattr(dataset, "dataset", dataset))
    ids, langs, preds, golds = [], [], [], []
    with torch.inference_mode():
        for sample in itr:
            logits, valid = task.predictions(model, sample["net_input"])
            best = logits.argmax(-1)
            ids += sample["id"].tolist()
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
    # in the split's own order, whatever order batching used (it depends on the checkpoint's seed):
    # per-example statistics of two runs then pair example by example
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return task, *([seq[i] for i in order] for seq in (langs, preds, golds))


def _predict_answers(task, model, itr, dataset):
    """(langs, answer texts, examples) of every question: start/end logits of all its windows,
    merged by n-best over the windows."""
    import torch

    logits_of_row = {}
    with torch.inference_mode():
        for sample in itr:
            logits, _ = task.predictions(model, sample["net_input"])
            for row, index in enumerate(sample["id"].tolist()):
                logits_of_row[index] = logits[row].float().cpu().numpy()
    answers = dataset.answers(logits_of_row, task.cfg.n_best_size, task.cfg.max_answer_length)
    return [ex.lang for ex in dataset.examples], answers, list(dataset.examples)


METRICS = ("auto", "accuracy", "f1", "squad", "mlqa")
QA_METRICS = ("auto", "f1", "squad", "mlqa")  # all F1; mlqa: MLQA's normalisation, else SQuAD v1.1's


def qa_scores(langs, answers, examples, metric: str = "auto"):
    """{lang: {"f1", "exact_match", "n"}} for answer texts of QAExamples."""
    if metric not in QA_METRICS:
        raise InputError(f"--metric {metric}: QA is scored with F1 and exact match; expected one of {QA_METRICS}")
    by_lang = {}
    for lang, answer, ex in zip(langs, answers, examples):
        preds, exs = by_lang.setdefault(lang, ({}, []))
        preds[ex.id] = answer
        exs.append(ex)
    return {lang: qa_metrics.evaluate(p, exs, lang, mlqa=metric == "mlqa")
            for lang, (p, exs) in sorted(by_lang.items())}


def score(task, langs, preds, golds, metric: str = "auto"):
    """Per-language score and the metric's name."""
    if metric in ("squad", "mlqa") and task.kind != "qa":
        raise InputError(f"--metric {metric} scores QA answers; this checkpoint's task is {task.kind}")
    if task.kind == "qa":
        scores = qa_scores(langs, preds, golds, metric)
        return {lang: s["f1"] for lang, s in scores.items()}, f"F1 ({'MLQA' if metric == 'mlqa' else 'SQuAD v1.1'})"
    if task.kind == "classification":
        return per_language_accuracy(langs, preds, golds), "accuracy"
    metric = tagging_metric(metric, task.label_names)
    by_lang = {}
    for lang, p, g in zip(langs, preds, golds):
        by_lang.setdefault(lang, ([], []))
        by_lang[lang][0].append(g)
        by_lang[lang][1].append(p)
    if metric == "f1":
        out = {l: entity_f1(g, [[t or "O" for t in s] for s in p])["f1"] for l, (g, p) in sorted(by_lang.items())}
        return out, "entity F1"
    return {l: token_accuracy(g, p) for l, (g, p) in sorted(by_lang.items())}, "token accuracy"


def example_stats(task, langs, preds, golds, metric: str = "auto") -> dict:
    """Per test example, the summable parts of its language's score (what a paired significance test
    swaps between two systems): ratio = [hits, items] (accuracy, token accuracy, QA's mean F1),
    f1 = [correct, predicted, gold] entities."""
    from xtune_fairseq.core.metrics.entities import entity_counts

    if task.kind == "classification":
        return {"langs": list(langs), "kind": "ratio", "stats": [[int(p == g), 1] for p, g in zip(preds, golds)]}
    if task.kind == "qa":
        mlqa = metric == "mlqa"
        stats = [[max(qa_metrics.f1(p, t, lang, mlqa) for t, _ in ex.answers), 1]
                 for lang, p, ex in zip(langs, preds, golds)]
        return {"langs": list(langs), "kind": "ratio", "stats": stats}
    if tagging_metric(metric, task.label_names) == "f1":
        stats = [list(entity_counts(g, [t or "O" for t in p])) for p, g in zip(preds, golds)]
        return {"langs": list(langs), "kind": "f1", "stats": stats}
    stats = [[sum(x == y for x, y in zip(g, p)), len(g)] for p, g in zip(preds, golds)]
    return {"langs": list(langs), "kind": "ratio", "stats": stats}


def evaluate(checkpoints, data, split="test", source="en", batch_size=64, metric="auto", predictions_dir=None):
    """predictions_dir: QA only, writes NAME.LANG.json ({question id: answer}) per checkpoint and language."""
    results = {}
    for spec in checkpoints:
        name, path = spec.split("=", 1) if "=" in spec else (os.path.basename(os.path.dirname(spec)) or spec, spec)
        task, langs, preds, golds = predict(path, data, split, batch_size)
        scores, metric_name = score(task, langs, preds, golds, metric=metric)
        results[name] = summarize(scores, source)
        results[name]["metric"] = metric_name
        results[name]["examples"] = example_stats(task, langs, preds, golds, metric)
        if task.kind == "qa":
            em = qa_scores(langs, preds, golds, metric)
            results[name]["exact_match"] = summarize({lang: s["exact_match"] for lang, s in em.items()}, source)
            if predictions_dir:
                _write_answers(predictions_dir, name, langs, preds, golds)
        results[name]["checkpoint"] = os.path.abspath(path)
        results[name]["split"] = split
    return results


def _write_answers(folder, name, langs, answers, examples):
    from xtune_fairseq.core.qa.squad import write_predictions

    os.makedirs(folder, exist_ok=True)
    for lang in sorted(set(langs)):
        write_predictions(os.path.join(folder, f"{name}.{lang}.json"),
                          {ex.id: a for l, a, ex in zip(langs, answers, examples) if l == lang})


COMMAND = "xtune-evaluate"


def write_outputs(results, json_path=None, markdown_path=None, command=None):
    """command: the CLI whose outputs they are, marked as such beside each (files.mark_output)."""
    table = markdown_table(results, next(iter(results.values())).get("metric", "accuracy"))
    if all("exact_match" in r for r in results.values()):  # QA: the exact-match table as well
        table += "\n" + markdown_table({n: r["exact_match"] for n, r in results.items()}, "exact match")
    for path, text in ((json_path, json.dumps(results, indent=1)), (markdown_path, table)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_open(path) as f:
                f.write(text + "\n")
            if command:
                mark_output(path, command)
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
                   help="tagging: token accuracy or entity F1 (auto: F1 for BIO tag sets); QA: F1 and exact match "
                   "with SQuAD v1.1's normalisation (squad, auto) or MLQA's per-language one (mlqa)")
    p.add_argument("--predictions-dir", help="QA: write NAME.LANG.json answers per checkpoint and language here")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write the table here")
    p.add_argument("--force", action="store_true",
                   help="replace a --json / --markdown file that is not this command's own previous output")
    args = p.parse_args(argv)

    def go():
        check_ranges(args)
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: data directory not found")
        checkpoints = [spec.split("=", 1)[-1] for spec in args.checkpoint]
        if args.predictions_dir and os.path.lexists(args.predictions_dir) and not os.path.isdir(args.predictions_dir):
            raise InputError(f"--predictions-dir {args.predictions_dir}: is a file, not a folder")
        for flag, path in (("--json", args.json), ("--markdown", args.markdown)):
            if path:  # never a checkpoint or inside the data directory read, nor a file of someone else's
                check_output_file(path, flag, checkpoints + [args.data], COMMAND, args.force)
        results = evaluate(args.checkpoint, args.data, args.split, args.source_lang, args.batch_size, args.metric,
                           args.predictions_dir)
        print(write_outputs(results, args.json, args.markdown, COMMAND))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
