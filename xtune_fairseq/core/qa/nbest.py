"""Answer spans from start/end logits, merged over all windows of one question."""

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from xtune_fairseq.core.qa.windows import Window


@dataclass(frozen=True)
class Candidate:
    text: str  # context[start_char:end_char]
    score: float  # start logit + end logit
    start_char: int
    end_char: int
    window: int  # index into the windows given
    start_token: int
    end_token: int


def nbest_spans(
    context: str,
    windows: Sequence[Window],
    start_logits: Sequence,
    end_logits: Sequence,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> List[Candidate]:
    """The n best distinct answer texts, best first.

    Per window, the n_best_size highest start and end logits are paired (as in BERT's
    SQuAD code); a pair counts if both tokens are context tokens, the start token has
    its max context in this window, and it spans at most max_answer_length tokens.
    Logit rows may be longer than the window (padding); the extra entries are ignored.
    """
    if not len(windows) == len(start_logits) == len(end_logits):
        raise ValueError(f"{len(windows)} windows, {len(start_logits)} start and {len(end_logits)} end logit rows")
    found: List[Candidate] = []
    for w, (window, starts, ends) in enumerate(zip(windows, start_logits, end_logits)):
        n = len(window.tokens)
        starts, ends = np.asarray(starts, dtype=np.float64)[:n], np.asarray(ends, dtype=np.float64)[:n]
        # stable sort: equal logits keep position order, so results do not depend on numpy's sort
        top_starts = np.argsort(-starts, kind="stable")[:n_best_size]
        top_ends = np.argsort(-ends, kind="stable")[:n_best_size]
        for i in top_starts:
            if window.token_to_char[i] is None or not window.max_context[i]:
                continue
            for j in top_ends:
                if window.token_to_char[j] is None or j < i or j - i + 1 > max_answer_length:
                    continue
                s, e = window.token_to_char[i][0], window.token_to_char[j][1]
                found.append(Candidate(context[s:e], float(starts[i] + ends[j]), s, e, w, int(i), int(j)))
    found.sort(key=lambda c: -c.score)  # sort is stable: ties keep window and position order
    best, seen = [], set()
    for cand in found:
        if cand.text not in seen:
            seen.add(cand.text)
            best.append(cand)
            if len(best) == n_best_size:
                break
    return best


def best_answer(
    context: str,
    windows: Sequence[Window],
    start_logits: Sequence,
    end_logits: Sequence,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> str:
    """Text of the highest-scoring span, "" when no window yields a valid span."""
    spans = nbest_spans(context, windows, start_logits, end_logits, n_best_size, max_answer_length)
    return spans[0].text if spans else ""


def best_span_overlap(start_logits, end_logits, gold_start, gold_end, max_answer_length: int = 30):
    """Per window (rows of torch tensors): the best span (start <= end < start + max_answer_length,
    highest start + end logit) and its token overlap with the gold span, as (overlap, predicted
    length, gold length): the summable parts of a token-level F1 used to select checkpoints during
    training (the official SQuAD F1 compares answer texts merged over windows: xtune-evaluate)."""
    import torch  # late: torch: start-up time

    width = start_logits.size(-1)
    pos = torch.arange(width, device=start_logits.device)
    allowed = (pos.view(1, -1) >= pos.view(-1, 1)) & (pos.view(1, -1) < pos.view(-1, 1) + max_answer_length)
    scores = start_logits.float().unsqueeze(2) + end_logits.float().unsqueeze(1)
    best = scores.masked_fill(~allowed, float("-inf")).flatten(1).argmax(-1)
    start, end = best // width, best % width
    overlap = (torch.minimum(end, gold_end) - torch.maximum(start, gold_start) + 1).clamp(min=0)
    return torch.stack([overlap, end - start + 1, gold_end - gold_start + 1], dim=-1)
