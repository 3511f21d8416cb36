"""Word-level alignment for sequence labelling: which token belongs to which word, and word
vectors pooled from their subwords. Plain tensor functions, no fairseq."""

from typing import List, Sequence, Tuple

import torch

NO_WORD = -1  # <s>, </s> and padding belong to no word

POOLING = ("first", "average", "sum")


def word_of_token(pieces_per_word: Sequence[Sequence], max_tokens: int) -> List[int]:
    """Word index of every token of `<s> w0-pieces w1-pieces ... </s>`, cut to max_tokens with the
    closing </s> kept (as TextEncoder.build cuts). Words cut off have no token."""
    body = [i for i, pieces in enumerate(pieces_per_word) for _ in pieces]
    out = [NO_WORD] + body + [NO_WORD]
    if len(out) > max_tokens:
        out = out[: max_tokens - 1] + [NO_WORD]
    return out


def word_assignment(word_index: torch.Tensor, n_words: int) -> torch.Tensor:
    """(rows, time) word ids -> (rows, n_words, time) bool: token t belongs to word w."""
    words = torch.arange(n_words, device=word_index.device).view(1, n_words, 1)
    return word_index.unsqueeze(1) == words


def pool_words(hidden: torch.Tensor, word_index: torch.Tensor, n_words: int, mode: str = "first") -> Tuple[torch.Tensor, torch.Tensor]:
    """Word vectors (rows, n_words, dim) from token states (rows, time, dim), and a (rows, n_words)
    mask of words that have at least one token.

    first: the state of the word's first subword (NER in the paper); average: the mean over its
    subwords (POS in the paper); sum: their sum (POS in the authors' code). Words without tokens
    get zeros and mask False.
    """
    if mode not in POOLING:
        raise ValueError(f"word pooling must be one of {POOLING}, got {mode!r}")
    assign = word_assignment(word_index, n_words)
    counts = assign.sum(-1)
    valid = counts > 0
    weights = assign.to(hidden.dtype)
    if mode == "sum":
        pooled = torch.bmm(weights, hidden)
    elif mode == "average":
        pooled = torch.bmm(weights, hidden) / counts.clamp(min=1).unsqueeze(-1).to(hidden.dtype)
    else:
        first = weights.argmax(-1)  # index of the first maximal value: the word's first token
        pooled = hidden.gather(1, first.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))
        pooled = pooled * valid.unsqueeze(-1).to(hidden.dtype)
    return pooled, valid
