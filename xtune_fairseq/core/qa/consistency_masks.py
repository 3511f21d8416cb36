"""R1 for span extraction (paper 3.3.2): compare start/end distributions on unchanged positions.

Subword sampling and code-switch change the number of pieces, so two views' position
axes differ. R1 compares only tokens that exist in both views: the first token and the
context pieces of words that neither view changed. Question and other special tokens are
left out (the question may be augmented too, and its length shifts every later position);
their probability, with that of the changed words, goes into one extra "rest" bucket, so
each side is still a full distribution: kept positions (aligned in order) + rest.
"""

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from xtune_fairseq.core.consistency import kl_from_log_probs


def unchanged_positions(token_to_word: Sequence[Optional[int]], word_changed: Sequence[bool]) -> torch.Tensor:
    """Bool mask over a window's tokens: position 0, and context tokens whose word is unchanged.

    token_to_word: Window.token_to_word (None for question and special tokens).
    """
    mask = torch.tensor([w is not None and not word_changed[w] for w in token_to_word], dtype=torch.bool)
    mask[0] = True
    return mask


def aligned_positions(
    token_to_word_a: Sequence[Optional[int]],
    piece_in_word_a: Sequence[Optional[int]],
    word_changed_a: Sequence[bool],
    token_to_word_b: Sequence[Optional[int]],
    piece_in_word_b: Sequence[Optional[int]],
    word_changed_b: Sequence[bool],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Index tensors (idx_a, idx_b): token idx_a[i] of view A is token idx_b[i] of view B.

    A context token pairs when its word is unchanged in both views (so both hold the same
    pieces) and both windows contain the same piece of it (windows of the two views may
    start at different words). Position 0 always pairs. Both index lists are increasing,
    so the i-th kept token of one view is the i-th of the other.
    """

    def keys(words, pieces, changed_here, changed_there):
        return {(w, k): t for t, (w, k) in enumerate(zip(words, pieces))
                if w is not None and not changed_here[w] and not changed_there[w]}

    in_a = keys(token_to_word_a, piece_in_word_a, word_changed_a, word_changed_b)
    in_b = keys(token_to_word_b, piece_in_word_b, word_changed_b, word_changed_a)
    common = sorted(set(in_a) & set(in_b))
    return (torch.tensor([0] + [in_a[k] for k in common], dtype=torch.long),
            torch.tensor([0] + [in_b[k] for k in common], dtype=torch.long))


def pair_windows(windows_a: Sequence, word_changed_a: Sequence[bool],
                 windows_b: Sequence, word_changed_b: Sequence[bool]) -> List[Optional[int]]:
    """For each window of view A, the window of view B sharing the most aligned context
    tokens (None if none shares any): the two views slide their windows differently."""
    partners = []
    for wa in windows_a:
        shared = [len(aligned_positions(wa.token_to_word, wa.token_piece_in_word, word_changed_a,
                                        wb.token_to_word, wb.token_piece_in_word, word_changed_b)[0]) - 1
                  for wb in windows_b]
        best = max(range(len(shared)), key=shared.__getitem__, default=None)
        partners.append(best if best is not None and shared[best] > 0 else None)
    return partners


def positions_mask(positions: torch.Tensor, length: int) -> torch.Tensor:
    """Bool mask of `length` that is True at `positions` (e.g. from aligned_positions)."""
    return torch.zeros(length, dtype=torch.bool).index_fill_(0, positions, True)


def bucketed_log_probs(
    logits: torch.Tensor, keep_mask: torch.Tensor, pad_mask: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """(batch, K + 1) float32 log-probabilities: the kept positions in order, -inf filling
    rows with fewer than K = max kept, and last the log of the rest's mass (-inf if none).

    The softmax runs over non-padding positions; each row's exp sums to one. A single
    row (1-d logits and masks) gives a 1-d result.
    """
    if logits.dim() == 1:
        pad = None if pad_mask is None else pad_mask.unsqueeze(0)
        return bucketed_log_probs(logits.unsqueeze(0), keep_mask.unsqueeze(0), pad).squeeze(0)
    logits = logits.float()
    keep = keep_mask.bool()
    if pad_mask is not None:
        logits = logits.masked_fill(pad_mask, float("-inf"))
        keep = keep & ~pad_mask
    rest = ~keep if pad_mask is None else ~keep & ~pad_mask
    log_p = F.log_softmax(logits, dim=-1)
    counts = keep.sum(-1)
    width = int(counts.max()) if counts.numel() else 0
    # a stable sort on "not kept" puts the kept positions first, in position order
    order = torch.sort((~keep).to(torch.uint8), dim=-1, stable=True).indices[..., :width]
    filler = torch.arange(width, device=logits.device) >= counts.unsqueeze(-1)
    kept = log_p.gather(-1, order).masked_fill(filler, float("-inf"))
    has_rest = rest.any(-1, keepdim=True)
    # rows without a rest sum zeros instead of all -inf, whose logsumexp has a NaN gradient
    rest_terms = torch.where(has_rest, log_p.masked_fill(~rest, float("-inf")), torch.zeros_like(log_p))
    rest_log = torch.where(has_rest, torch.logsumexp(rest_terms, -1, keepdim=True),
                           torch.full_like(has_rest, float("-inf"), dtype=log_p.dtype))
    return torch.cat([kept, rest_log], dim=-1)


def span_r1(
    start_a: torch.Tensor,
    end_a: torch.Tensor,
    start_b: torch.Tensor,
    end_b: torch.Tensor,
    keep_a: torch.Tensor,
    keep_b: torch.Tensor,
    pad_a: Optional[torch.Tensor] = None,
    pad_b: Optional[torch.Tensor] = None,
    stop_gradient: bool = True,
) -> torch.Tensor:
    """Per-example KL_S(start) + KL_S(end) between the views' bucketed distributions,
    KL_S(P, Q) = KL(sg(P) || Q) + KL(sg(Q) || P) as in xtune_fairseq.core.consistency.

    Logits are (batch, length_a) and (batch, length_b); keep_a/keep_b (e.g. from
    aligned_positions) must keep the same number of non-padding positions in each row.
    """
    count_a = (keep_a & ~pad_a if pad_a is not None else keep_a).sum(-1)
    count_b = (keep_b & ~pad_b if pad_b is not None else keep_b).sum(-1)
    if not torch.equal(count_a, count_b):
        raise ValueError(f"views keep different numbers of positions: {count_a.tolist()} vs {count_b.tolist()}")

    def sym_kl(a_logits, b_logits):
        a_log = bucketed_log_probs(a_logits, keep_a, pad_a)
        b_log = bucketed_log_probs(b_logits, keep_b, pad_b)
        a_tgt = a_log.detach() if stop_gradient else a_log
        b_tgt = b_log.detach() if stop_gradient else b_log
        return kl_from_log_probs(a_tgt, b_log) + kl_from_log_probs(b_tgt, a_log)

    return sym_kl(start_a, start_b) + sym_kl(end_a, end_b)
