"""The outputs of an evaluation: its results as JSON and as markdown tables (per language, average,
transfer gap; QA adds the exact-match table)."""

import json
import os
from typing import Mapping, Optional

from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.metrics.metrics import markdown_table
from xtune_fairseq.core.ownership import mark_output


def write_outputs(results: Mapping[str, dict], json_path: Optional[str] = None, markdown_path: Optional[str] = None,
                  command: Optional[str] = None) -> str:
    """The markdown table of results (evaluate()'s, or aggregated ones), returned and written to
    markdown_path, the results to json_path (either optional). command: the CLI whose outputs they are,
    marked as such beside each (files.mark_output)."""
    first = next(iter(results.values()))
    if not any(r["per_language"] for r in results.values()):  # a split without labels (XTREME's test sets)
        table = (f"nothing scored: split {first.get('split', '?')} has no labels "
                 f"({', '.join(first.get('unlabelled', []))}); predictions only\n")
    else:
        table = markdown_table(results, first.get("metric", "accuracy"))
    if all(r.get("exact_match", {}).get("per_language") for r in results.values()):  # QA: exact match as well
        table += "\n" + markdown_table({n: r["exact_match"] for n, r in results.items()}, "exact match")
    for path, text in ((json_path, json.dumps(results, indent=1)), (markdown_path, table)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_open(path) as f:
                f.write(text + "\n")
            if command:
                mark_output(path, command)
    return table
