"""PNG charts of per-language scores across runs."""

from typing import Dict

from xtune_fairseq.core.files import atomic_open
import numpy as np


def bar_chart(results: Dict[str, dict], path: str, title: str = "accuracy per language") -> str:
    import matplotlib  # late: optional, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # late: optional, slow to import

    runs = list(results)
    langs = sorted({lang for r in results.values() for lang in r["per_language"]}) + ["avg"]
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(langs), 3.6))
    x = np.arange(len(langs))
    for i, run in enumerate(runs):
        r = results[run]
        vals = [r["per_language"].get(lang, np.nan) for lang in langs[:-1]] + [r["average"]]
        errs = None
        if "per_language_std" in r:
            errs = [r["per_language_std"].get(lang, 0.0) for lang in langs[:-1]] + [r.get("average_std", 0.0)]
        bars = ax.bar(x + (i - (len(runs) - 1) / 2) * width, vals, width, yerr=errs, label=run, capsize=3)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(x, langs)
    lo = min(min(r["per_language"].values()) for r in results.values())
    ax.set_ylim(max(0, lo - 15), 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=120, format="png")
    plt.close(fig)
    return path


def representation_plot(points, labels, langs, links, path: str, title: str) -> str:
    """Points coloured by label, marked by language, with grey lines joining translations."""
    import matplotlib  # late: optional, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # late: optional, slow to import

    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for a, b in links:
        ax.plot(*zip(points[a], points[b]), color="0.8", linewidth=0.5, zorder=1)
    label_names = sorted(set(labels))
    lang_names = sorted(set(langs))
    cmap = plt.get_cmap("tab10")
    for li, lang in enumerate(lang_names):
        for ci, label in enumerate(label_names):
            idx = [i for i in range(len(points)) if langs[i] == lang and labels[i] == label]
            if idx:
                ax.scatter(points[idx, 0], points[idx, 1], s=14, color=cmap(ci % 10), marker=markers[li % len(markers)],
                           label=f"{lang} / {label}", zorder=2, edgecolors="none")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.2, ncol=len(lang_names), loc="best")
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=120, format="png")
    plt.close(fig)
    return path
