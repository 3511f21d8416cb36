"""Paired significance of a score difference between two systems over the same test examples and
seeds: approximate randomization (Noreen 1989; Riezler and Maxwell 2005).

Each example carries summable statistics (hits and items for accuracy, entity counts for F1);
a language's score is a function of their sums and the reported number is the mean over seeds
of the average over languages, as in the results tables. Under the null hypothesis the two
systems' outputs on an example are exchangeable, so each (seed, example) pair is swapped with
probability 1/2 and the statistic recomputed. Plain numpy, no fairseq.
"""

from typing import Dict, Sequence

import numpy as np


def _score(sums: np.ndarray, kind: str) -> np.ndarray:
    """Scores in percent from summed statistics (..., k)."""
    if kind == "ratio":
        return 100.0 * sums[..., 0] / np.maximum(sums[..., 1], 1e-12)
    if kind == "f1":
        return 200.0 * sums[..., 0] / np.maximum(sums[..., 1] + sums[..., 2], 1e-12)
    raise ValueError(f"unknown score kind {kind!r} (ratio or f1)")


def average_score(stats: np.ndarray, lang_ids: np.ndarray, kind: str) -> np.ndarray:
    """stats (..., examples, k) -> the mean over languages of each language's score, shape (...)."""
    onehot = np.eye(lang_ids.max() + 1)[lang_ids]  # (examples, langs)
    sums = np.einsum("...ek,el->...lk", stats, onehot)
    return _score(sums, kind).mean(-1)


def paired_randomization(a: np.ndarray, b: np.ndarray, lang_ids: Sequence[int], kind: str = "ratio",
                         n_samples: int = 10000, seed: int = 0, chunk: int = 500) -> Dict[str, float]:
    """a, b: (seeds, examples, k) statistics of systems A and B, seed s of A paired with seed s of B.

    Returns the observed difference (mean over seeds of A's average score minus B's) and its
    two-sided p-value, (1 + #{|shuffled difference| >= |observed|}) / (1 + n_samples).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    lang_ids = np.asarray(lang_ids)
    if a.shape != b.shape or a.ndim != 3 or a.shape[1] != len(lang_ids):
        raise ValueError(f"expected two (seeds, examples, k) arrays over {len(lang_ids)} examples, got "
                         f"{a.shape} and {b.shape}")
    observed = float((average_score(a, lang_ids, kind) - average_score(b, lang_ids, kind)).mean())
    rng = np.random.default_rng(seed)
    extreme, done = 0, 0
    while done < n_samples:
        n = min(chunk, n_samples - done)
        swap = rng.random((n,) + a.shape[:2])[..., None] < 0.5  # (n, seeds, examples, 1)
        a_s, b_s = np.where(swap, b, a), np.where(swap, a, b)
        diff = (average_score(a_s, lang_ids, kind) - average_score(b_s, lang_ids, kind)).mean(-1)
        extreme += int((np.abs(diff) >= abs(observed) - 1e-12).sum())
        done += n
    return {"difference": observed, "p_value": (1 + extreme) / (1 + n_samples), "samples": n_samples}


def holm(p_values: Sequence[float]) -> list:
    """Holm-Bonferroni adjusted p-values (family-wise error over several rows against one baseline)."""
    order = np.argsort(p_values)
    m, running, out = len(p_values), 0.0, [0.0] * len(p_values)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
