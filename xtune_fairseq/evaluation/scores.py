"""Per-language scores of predictions: accuracy (classification), token accuracy or entity F1
(tagging; on tags that are not BIO, such as POS, F1 is seqeval's over the raw tags, the number
XTREME's evaluate.py reports for udpos), SQuAD / MLQA F1 and exact match (QA); and per example, the
summable parts of those scores that a paired significance test swaps between two systems."""

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.metrics.entities import (bio_form, entity_counts, entity_f1, tag_chunk_counts, tag_f1,
                                                  tagging_metric, token_accuracy)
from xtune_fairseq.core.metrics.metrics import per_language_accuracy
from xtune_fairseq.core.qa import metrics as qa_metrics

METRICS = ("auto", "accuracy", "f1", "squad", "mlqa")
QA_METRICS = ("auto", "f1", "squad", "mlqa")  # all F1; mlqa: MLQA's normalisation, else SQuAD v1.1's
TAG_F1 = "F1 (seqeval over the tags, XTREME's udpos score)"  # --metric f1 on tags that are not BIO


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
        bio = bio_form(task.label_names)
        f1 = entity_f1 if bio else tag_f1
        out = {l: f1(g, [[t or "O" for t in s] for s in p])["f1"] for l, (g, p) in sorted(by_lang.items())}
        return out, "entity F1" if bio else TAG_F1
    return {l: token_accuracy(g, p) for l, (g, p) in sorted(by_lang.items())}, "token accuracy"


def example_stats(task, langs, preds, golds, metric: str = "auto") -> dict:
    """Per test example, the summable parts of its language's score (what a paired significance test
    swaps between two systems): ratio = [hits, items] (accuracy, token accuracy, QA's mean F1),
    f1 = [correct, predicted, gold] entities (chunks of seqeval's reading on tags that are not BIO, each
    counted in the sentence of its last word: summed over a language, that language's score; as such a
    chunk can reach back into the sentence before, swapping sentences between two systems is then a
    close approximation of the corpus score's randomization, not an exact one)."""
    if task.kind == "classification":
        return {"langs": list(langs), "kind": "ratio", "stats": [[int(p == g), 1] for p, g in zip(preds, golds)]}
    if task.kind == "qa":
        mlqa = metric == "mlqa"
        stats = [[max(qa_metrics.f1(p, t, lang, mlqa) for t, _ in ex.answers), 1]
                 for lang, p, ex in zip(langs, preds, golds)]
        return {"langs": list(langs), "kind": "ratio", "stats": stats}
    if tagging_metric(metric, task.label_names) == "f1":
        preds = [[t or "O" for t in p] for p in preds]
        if bio_form(task.label_names):
            stats = [list(entity_counts(g, p)) for p, g in zip(preds, golds)]
        else:
            stats = _tag_chunk_stats(langs, preds, golds)
        return {"langs": list(langs), "kind": "f1", "stats": stats}
    stats = [[sum(x == y for x, y in zip(g, p)), len(g)] for p, g in zip(preds, golds)]
    return {"langs": list(langs), "kind": "ratio", "stats": stats}


def _tag_chunk_stats(langs, preds, golds) -> list:
    """seqeval's chunk counts per example; each language is one corpus (its sentences in order), as scored."""
    rows = {}
    for i, lang in enumerate(langs):
        rows.setdefault(lang, []).append(i)
    stats = [None] * len(langs)
    for idx in rows.values():
        for i, counts in zip(idx, tag_chunk_counts([golds[i] for i in idx], [preds[i] for i in idx])):
            stats[i] = list(counts)
    return stats
