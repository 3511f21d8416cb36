"""A fine-tuned checkpoint on a split of an xtune-preprocess directory: its predictions (predict),
and evaluate(): per checkpoint, the per-language scores, their average over languages and the
cross-lingual transfer gap, with per-example statistics for significance tests.

torch and fairseq are imported when a checkpoint is read, not with this module: the CLIs' --help
and their flag errors stay fast."""

import os
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from xtune_fairseq.core.data.prepared import read_data_info
from xtune_fairseq.core.metrics.metrics import summarize
from xtune_fairseq.core.qa.squad import write_predictions
from xtune_fairseq.evaluation.scores import example_stats, qa_scores, score
from xtune_fairseq.evaluation.submission import (submission_files, submission_folder, unlabelled_languages,
                                                  write_submission)
from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data

Checkpoints = Union[Mapping[str, str], Sequence[str]]  # {name: path}, or NAME=PATH / PATH specs


def predict(checkpoint: str, data: str, split: str = "test", batch_size: int = 64):
    """(task, langs, predictions, golds) of a checkpoint on a split of an xtune-preprocess directory:
    label indices (classification), lists of tag names per sentence (tagging), or answer texts
    per question with the QAExamples as golds (qa)."""
    import torch  # here, not at the top: see the module's docstring

    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

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
                golds.append(None if sentence.tags is None else list(sentence.tags))  # None: no tags (XTREME's test)
    # in the split's own order, whatever order batching used (it depends on the checkpoint's seed):
    # per-example statistics of two runs then pair example by example
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return task, *([seq[i] for i in order] for seq in (langs, preds, golds))


def _predict_answers(task, model, itr, dataset):
    """(langs, answer texts, examples) of every question: start/end logits of all its windows,
    merged by n-best over the windows."""
    import torch  # here, not at the top: see the module's docstring

    logits_of_row = {}
    with torch.inference_mode():
        for sample in itr:
            logits, _ = task.predictions(model, sample["net_input"])
            for row, index in enumerate(sample["id"].tolist()):
                logits_of_row[index] = logits[row].float().cpu().numpy()
    answers = dataset.answers(logits_of_row, task.cfg.n_best_size, task.cfg.max_answer_length)
    return [ex.lang for ex in dataset.examples], answers, list(dataset.examples)


def checkpoint_specs(specs: Iterable[str]) -> List[Tuple[str, str]]:
    """xtune-evaluate's --checkpoint values, NAME=PATH or PATH (named by its folder), as (name, path)."""
    if isinstance(specs, str):
        raise TypeError(f"checkpoints: expected {{name: path}} or a list of NAME=PATH specs, not the str {specs!r}")
    return [tuple(spec.split("=", 1)) if "=" in spec else (os.path.basename(os.path.dirname(spec)) or spec, spec)
            for spec in specs]


def _named(checkpoints: Checkpoints) -> List[Tuple[str, str]]:
    return list(checkpoints.items()) if isinstance(checkpoints, Mapping) else checkpoint_specs(checkpoints)


def evaluate(checkpoints: Checkpoints, data: str, split: str = "test", *, source: str = "en", batch_size: int = 64,
             metric: str = "auto", predictions_dir: Optional[str] = None, submission_dir: Optional[str] = None) -> dict:
    """{name: {"per_language", "average", "transfer_gap", "source_language", "metric", "examples",
    ["exact_match",] ["unlabelled", "submission",] "checkpoint", "split"}} of each checkpoint on `split` of
    the xtune-preprocess directory `data`. checkpoints: {name: path}, or NAME=PATH / PATH specs
    (checkpoint_specs); source: the language the transfer gap is measured from; metric: one of
    scores.METRICS; predictions_dir: QA only, writes NAME.LANG.json ({question id: answer}) per checkpoint
    and language. Languages without labels (XTREME's test sets) are not scored but listed in "unlabelled";
    with submission_dir, their predictions go to SUBMISSION_DIR/NAME/TASK/SPLIT-LANG.tsv|json
    ("submission": {lang: file}), XTREME's submission layout (submission.py)."""
    results = {}
    for name, path in _named(checkpoints):
        task, langs, preds, golds = predict(path, data, split, batch_size)
        unlabelled = unlabelled_languages(task.kind, langs, golds)
        keep = [i for i, lang in enumerate(langs) if lang not in unlabelled]
        s_langs, s_preds, s_golds = ([seq[i] for i in keep] for seq in (langs, preds, golds))
        scores, metric_name = score(task, s_langs, s_preds, s_golds, metric=metric)
        results[name] = summarize(scores, source)
        results[name]["metric"] = metric_name
        results[name]["examples"] = example_stats(task, s_langs, s_preds, s_golds, metric)
        if task.kind == "qa":
            em = qa_scores(s_langs, s_preds, s_golds, metric)
            results[name]["exact_match"] = summarize({lang: s["exact_match"] for lang, s in em.items()}, source)
            if predictions_dir:
                _write_answers(predictions_dir, name, langs, preds, golds)
        if unlabelled:
            results[name]["unlabelled"] = unlabelled
        if unlabelled and submission_dir:
            folder = submission_folder(submission_dir, name, data)
            results[name]["submission"] = write_submission(folder, task.kind, split, langs, preds, golds,
                                                           task.label_names, unlabelled)
        results[name]["checkpoint"] = os.path.abspath(path)
        results[name]["split"] = split
    return results


def answers_file(predictions_dir: str, name: str, lang: str) -> str:
    """Where evaluate(predictions_dir=...) writes checkpoint NAME's QA answers in a language."""
    return os.path.join(predictions_dir, f"{name}.{lang}.json")


def prediction_files(checkpoints: Checkpoints, data: str, split: str, unlabelled: Sequence[str],
                     predictions_dir: Optional[str] = None,
                     submission_dir: Optional[str] = None) -> List[Tuple[str, str]]:
    """(flag, path) of every prediction file evaluate() may write with these arguments, known before it
    runs (a caller checks they replace nothing of anyone else's): QA answers per checkpoint and language
    of the data (--predictions-dir), and the split's languages without labels in XTREME's layout
    (--submission-dir; `unlabelled`: submission.check_split's)."""
    names = [name for name, _ in _named(checkpoints)]
    files = []
    if predictions_dir:
        langs = read_data_info(data, required=()).get("languages", [])
        files += [("--predictions-dir", answers_file(predictions_dir, name, lang)) for name in names for lang in langs]
    if submission_dir:
        files += [("--submission-dir", path)
                  for path in submission_files(submission_dir, names, data, split, unlabelled)]
    return files


def _write_answers(folder, name, langs, answers, examples):
    os.makedirs(folder, exist_ok=True)
    for lang in sorted(set(langs)):
        write_predictions(answers_file(folder, name, lang),
                          {ex.id: a for l, a, ex in zip(langs, answers, examples) if l == lang})
