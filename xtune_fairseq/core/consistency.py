"""The two consistency regularizers of xTune as plain tensor functions.

All functions take logits whose last dimension is the label (or position) axis and
return one value per leading position, in float32, unreduced. Callers sum the items they
want; the criterion normalises each sum as the authors' code does (a mean over the term's
items, and for labels also over the label axis, PyTorch's default 'mean') unless told to
keep the paper's plain sums.
"""

import torch
import torch.nn.functional as F


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    # float32 even under fp16/bf16: exp/log of half precision loses the small KL values
    return F.log_softmax(logits.float(), dim=-1)


def kl_from_log_probs(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
    """KL(P || Q) over the last axis; terms with P = 0 count as 0 (also for -inf logits)."""
    p = p_log.exp()
    terms = torch.where(p > 0, p * (p_log - q_log), torch.zeros_like(p))
    return terms.sum(-1)


def kl_from_logits(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(p_logits) || softmax(q_logits)), gradients flow into both."""
    return kl_from_log_probs(_log_probs(p_logits), _log_probs(q_logits))


def symmetric_kl(
    a_logits: torch.Tensor, b_logits: torch.Tensor, stop_gradient: bool = True
) -> torch.Tensor:
    """R1's KL_S(P, Q) = KL(sg(P) || Q) + KL(sg(Q) || P), no 1/2 (paper eq. in 3.1.1).

    With stop_gradient=False both directions back-propagate into both inputs
    (the paper's "w/o stopgrad" ablation).
    """
    a_log, b_log = _log_probs(a_logits), _log_probs(b_logits)
    a_tgt = a_log.detach() if stop_gradient else a_log
    b_tgt = b_log.detach() if stop_gradient else b_log
    return kl_from_log_probs(a_tgt, b_log) + kl_from_log_probs(b_tgt, a_log)


def teacher_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """R2's KL(f(x; theta*) || f(x; theta)); the teacher is a constant."""
    return kl_from_log_probs(_log_probs(teacher_logits.detach()), _log_probs(student_logits))


def teacher_hard_ce(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """R2's hard-label variant: cross-entropy of the student on the teacher's argmax."""
    hard = teacher_logits.detach().argmax(-1)
    return F.nll_loss(
        _log_probs(student_logits).reshape(-1, student_logits.size(-1)),
        hard.reshape(-1),
        reduction="none",
    ).reshape(hard.shape)


def masked_sum(values: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
    """Sum of values where mask is true (all when mask is None), as float32."""
    if mask is None:
        return values.sum()
    return torch.where(mask, values, torch.zeros_like(values)).sum()
