"""Per-language scores, their average and the cross-lingual transfer gap (paper Table 9)."""

from typing import Dict, List, Sequence
import statistics


def per_language_accuracy(langs: Sequence[str], preds: Sequence[int], golds: Sequence[int]) -> Dict[str, float]:
    if not (len(langs) == len(preds) == len(golds)):
        raise ValueError("langs, preds and golds must have the same length")
    hit: Dict[str, List[int]] = {}
    for lang, p, g in zip(langs, preds, golds):
        hit.setdefault(lang, []).append(int(p == g))
    return {lang: 100.0 * sum(v) / len(v) for lang, v in sorted(hit.items())}


def summarize(scores: Dict[str, float], source: str = "en") -> Dict[str, object]:
    """average over all languages; gap = source score minus the mean of the other languages."""
    others = [v for k, v in scores.items() if k != source]
    gap = scores[source] - sum(others) / len(others) if source in scores and others else None
    return {
        "per_language": dict(scores),
        "average": sum(scores.values()) / len(scores) if scores else None,
        "transfer_gap": gap,
        "source_language": source,
    }


def markdown_table(results: Dict[str, Dict[str, object]], metric: str = "accuracy") -> str:
    """One row per run: per-language scores, average and transfer gap."""
    langs = sorted({lang for r in results.values() for lang in r["per_language"]})
    head = ["run"] + langs + ["avg", "gap"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        spread = r.get("per_language_std", {})
        cells = [name] + [format_score(r["per_language"].get(lang), spread.get(lang)) for lang in langs]
        cells += [format_score(r["average"], r.get("average_std")), format_score(r["transfer_gap"], r.get("transfer_gap_std"))]
        lines.append("| " + " | ".join(cells) + " |")
    return f"{metric} per language; gap = {next(iter(results.values()))['source_language']} minus the mean of the others\n\n" + "\n".join(lines) + "\n"


def format_score(v, std=None):
    if v is None:
        return "-"
    return f"{v:.1f}" if std is None else f"{v:.1f} ± {std:.1f}"


def aggregate(runs: Sequence[Dict[str, object]]) -> Dict[str, object]:
    """Mean and (sample) standard deviation over runs of one setting, e.g. several seeds."""

    def stats(values):
        values = [v for v in values if v is not None]
        if not values:
            return None, None
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    langs = sorted({lang for r in runs for lang in r["per_language"]})
    out: Dict[str, object] = {"per_language": {}, "per_language_std": {}, "runs": len(runs),
                              "source_language": runs[0]["source_language"]}
    for lang in langs:
        out["per_language"][lang], out["per_language_std"][lang] = stats([r["per_language"].get(lang) for r in runs])
    out["average"], out["average_std"] = stats([r["average"] for r in runs])
    out["transfer_gap"], out["transfer_gap_std"] = stats([r["transfer_gap"] for r in runs])
    return out
