"""2-D projections of representations (paper Figure 3) and the translation links between them."""

from typing import Dict, List, Sequence, Tuple

import numpy as np


def pca_2d(x: np.ndarray) -> np.ndarray:
    centered = x - x.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T


def project_2d(x: np.ndarray, method: str = "tsne", seed: int = 1) -> np.ndarray:
    if method == "pca":
        return pca_2d(x)
    if method == "tsne":
        from sklearn.manifold import TSNE  # late: optional, slow to import

        perplexity = max(2.0, min(30.0, (len(x) - 1) / 3))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    raise ValueError(f"method must be tsne or pca, got {method!r}")


def translation_links(ids: Sequence[str], langs: Sequence[str]) -> List[Tuple[int, int]]:
    """Pairs of rows that are translations: ids equal once the language code is removed
    (`valid-en-7` ~ `valid-de-7`, XNLI's layout)."""
    groups: Dict[str, List[int]] = {}
    for i, (ex_id, lang) in enumerate(zip(ids, langs)):
        key = "-".join("*" if part == lang else part for part in ex_id.split("-"))
        groups.setdefault(key, []).append(i)
    return [(g[0], j) for g in groups.values() for j in g[1:]]
