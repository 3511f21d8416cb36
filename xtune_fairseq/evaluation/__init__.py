"""Evaluation as a library, with the xtune-evaluate, xtune-results, xtune-represent and
xtune-retrieval commands as thin flag parsers over it:

    from xtune_fairseq.evaluation import evaluate, write_outputs
    results = evaluate({"xtune": "runs/x/stage2/checkpoint_best.pt"}, "data-bin", "test")
    print(write_outputs(results, "results.json", "results.md"))

predictions.py: a checkpoint's predictions on a split, and evaluate(); submission.py: predictions of
languages without labels (XTREME's test sets) in XTREME's submission layout; scores.py: per-language scores and
per-example statistics; report.py: results as JSON and markdown; tables.py: runs over seeds as mean ± std
tables; significance.py: paired randomization against a baseline; encoders.py: models for the analyses;
representations.py: the t-SNE / PCA picture of first-token vectors; retrieval.py: cross-lingual retrieval."""

import importlib
from typing import TYPE_CHECKING

# Each public name and its module, imported on first use (PEP 562 __getattr__ below), not with the
# package: a command pays only for the modules it uses (xtune-results neither numpy nor the QA tables),
# so the CLIs' --help and flag errors stay fast.
_MODULE_OF = {
    "Checkpoints": "predictions", "checkpoint_specs": "predictions", "evaluate": "predictions",
    "predict": "predictions",
    "METRICS": "scores", "example_stats": "scores", "qa_scores": "scores", "score": "scores",
    "prediction_files": "predictions",
    "write_outputs": "report", "check_split": "submission", "write_submission": "submission",
    "load_runs": "tables", "write_tables": "tables",
    "check_samples": "significance", "compare": "significance", "significance_table": "significance",
    "write_significance": "significance",
    "Encoder": "encoders", "load_encoder": "encoders",
    "first_token_vectors": "representations", "plot_representations": "representations",
    "parallel_sets": "retrieval", "read_line_aligned": "retrieval", "read_parallel_tsv": "retrieval",
    "retrieval_markdown": "retrieval", "retrieval_table": "retrieval", "write_results": "retrieval",
}
__all__ = sorted(_MODULE_OF)

if TYPE_CHECKING:  # what type checkers and editors read; at run time, __getattr__
    from xtune_fairseq.evaluation.encoders import Encoder, load_encoder
    from xtune_fairseq.evaluation.predictions import Checkpoints, checkpoint_specs, evaluate, predict, prediction_files
    from xtune_fairseq.evaluation.report import write_outputs
    from xtune_fairseq.evaluation.representations import first_token_vectors, plot_representations
    from xtune_fairseq.evaluation.retrieval import (parallel_sets, read_line_aligned, read_parallel_tsv,
                                                    retrieval_markdown, retrieval_table, write_results)
    from xtune_fairseq.evaluation.scores import METRICS, example_stats, qa_scores, score
    from xtune_fairseq.evaluation.significance import check_samples, compare, significance_table, write_significance
    from xtune_fairseq.evaluation.submission import check_split, write_submission
    from xtune_fairseq.evaluation.tables import load_runs, write_tables


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
