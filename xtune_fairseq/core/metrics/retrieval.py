"""Cross-lingual sentence retrieval (paper Table 5): nearest neighbour by cosine between
sentence vectors of parallel sentences; top-1 accuracy in both directions."""

from typing import Tuple

import numpy as np


def top1_accuracy(src: np.ndarray, tgt: np.ndarray) -> Tuple[float, float]:
    """src[i] and tgt[i] are translations. Returns (src->tgt, tgt->src) top-1 accuracy in %."""
    if src.shape != tgt.shape:
        raise ValueError(f"need as many source as target vectors, got {src.shape} and {tgt.shape}")
    a = src / np.linalg.norm(src, axis=1, keepdims=True)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    sim = a @ b.T
    gold = np.arange(len(a))
    return 100.0 * float((sim.argmax(1) == gold).mean()), 100.0 * float((sim.argmax(0) == gold).mean())


def masked_mean(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the positions where mask is true: hidden (batch, time, dim), mask (batch, time)."""
    m = mask[..., None].astype(hidden.dtype)
    return (hidden * m).sum(1) / np.maximum(m.sum(1), 1)
