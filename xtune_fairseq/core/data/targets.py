"""Targets shared by the datasets, the criterion and R2's teacher. No fairseq import."""

import torch
import torch.nn.functional as F

IGNORE = -100  # target of an item with no label (a word without a tag, padding, a window without the answer)


def items(t: torch.Tensor, n_items: int, logits_dim: bool = False) -> torch.Tensor:
    """Targets (rows,) or (rows, words), or teacher logits with a label axis, padded or cut to n_items
    (words cut off by --max-positions have no prediction and no loss)."""
    if t.dim() == (2 if logits_dim else 1):
        t = t.unsqueeze(1)
    t = t[:, :n_items]
    missing = n_items - t.size(1)
    if missing > 0:
        pad = (0, 0, 0, missing) if logits_dim else (0, missing)
        t = F.pad(t, pad, value=0.0 if logits_dim else IGNORE)
    return t
