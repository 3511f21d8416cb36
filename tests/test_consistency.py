"""R1 and R2 against direct formulas, stop-gradient, reduction and numerical safety."""

import math

import pytest
import torch

from xtune_fairseq.core.consistency import (
    kl_from_logits, masked_sum, symmetric_kl, teacher_hard_ce, teacher_kl,
)


def direct_kl(p_logits, q_logits):
    """KL(P||Q) = sum_i p_i log(p_i / q_i), written out element by element."""
    out = []
    for pl, ql in zip(p_logits.tolist(), q_logits.tolist()):
        zp = sum(math.exp(v) for v in pl)
        zq = sum(math.exp(v) for v in ql)
        p = [math.exp(v) / zp for v in pl]
        q = [math.exp(v) / zq for v in ql]
        out.append(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q)))
    return torch.tensor(out, dtype=torch.float64)


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, generator=g) * 2, torch.randn(4, 3, generator=g) * 2


def test_kl_matches_direct_formula(logits):
    a, b = logits
    assert torch.allclose(kl_from_logits(a, b).double(), direct_kl(a, b), atol=1e-6)


def test_r1_is_both_directions_without_half(logits):
    a, b = logits
    expected = direct_kl(a, b) + direct_kl(b, a)
    assert torch.allclose(symmetric_kl(a, b).double(), expected, atol=1e-6)
    assert torch.allclose(symmetric_kl(a, b, stop_gradient=False).double(), expected, atol=1e-6)


def test_r2_is_teacher_to_student(logits):
    t, s = logits
    assert torch.allclose(teacher_kl(t, s).double(), direct_kl(t, s), atol=1e-6)
    assert not torch.allclose(teacher_kl(t, s).double(), direct_kl(s, t), atol=1e-3)


def test_r2_hard_labels_is_cross_entropy_on_teacher_argmax(logits):
    t, s = logits
    hard = t.argmax(-1)
    expected = [-(s[i, hard[i]] - torch.logsumexp(s[i], 0)).item() for i in range(len(s))]
    assert torch.allclose(teacher_hard_ce(t, s), torch.tensor(expected), atol=1e-6)


def test_identical_views_give_zero(logits):
    a, _ = logits
    assert torch.allclose(symmetric_kl(a, a.clone()), torch.zeros(4), atol=1e-7)


def test_stop_gradient_direction_by_direction(logits):
    """With stopgrad, d KL(sg(P)||Q)/dP = 0: the gradient reaching `a` is only from KL(sg(b)||a)."""
    a0, b0 = logits
    a = a0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    symmetric_kl(a, b).sum().backward()
    a_ref = a0.clone().requires_grad_()
    kl_from_logits(b0, a_ref).sum().backward()  # KL(const b || a)
    assert torch.allclose(a.grad, a_ref.grad, atol=1e-6)

    a2 = a0.clone().requires_grad_()
    b2 = b0.clone().requires_grad_()
    symmetric_kl(a2, b2, stop_gradient=False).sum().backward()
    a_full = a0.clone().requires_grad_()
    (kl_from_logits(a_full, b0) + kl_from_logits(b0, a_full)).sum().backward()
    assert torch.allclose(a2.grad, a_full.grad, atol=1e-6)
    assert not torch.allclose(a2.grad, a.grad, atol=1e-4)


def test_teacher_gets_no_gradient(logits):
    t0, s0 = logits
    t = t0.clone().requires_grad_()
    s = s0.clone().requires_grad_()
    (teacher_kl(t, s).sum() + teacher_hard_ce(t, s).sum()).backward()
    assert t.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_float32_under_half_inputs(logits):
    a, b = logits
    for dtype in (torch.bfloat16, torch.float16):
        out = symmetric_kl(a.to(dtype), b.to(dtype))
        assert out.dtype == torch.float32
        assert torch.allclose(out, symmetric_kl(a.to(dtype).float(), b.to(dtype).float()))


def test_extreme_and_masked_logits_stay_finite():
    big = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    assert torch.isfinite(symmetric_kl(big, big.flip(0))).all()
    masked = torch.tensor([[0.0, float("-inf"), 1.0]])
    assert torch.isfinite(kl_from_logits(masked, torch.zeros(1, 3))).all()  # p = 0 terms count as 0
    assert torch.isfinite(teacher_kl(masked, torch.zeros(1, 3))).all()


def test_masked_sum():
    v = torch.tensor([1.0, 2.0, 4.0])
    assert masked_sum(v).item() == 7.0
    assert masked_sum(v, torch.tensor([True, False, True])).item() == 5.0


def test_all_but_one_position_masked():
    """A distribution with all mass on one label (the rest at -inf) against any other stays finite."""
    one_hot = torch.full((2, 5), float("-inf"))
    one_hot[:, 2] = 0.0
    other = torch.randn(2, 5)
    expected = -torch.log_softmax(other, -1)[:, 2]  # KL(onehot || q) = -log q_2
    assert torch.allclose(kl_from_logits(one_hot, other), expected, atol=1e-6)
    assert torch.isinf(symmetric_kl(one_hot, other)).all()  # KL(q || one-hot) is +inf by definition, not nan
    assert torch.isfinite(teacher_kl(one_hot, other)).all()
    assert torch.isfinite(teacher_hard_ce(one_hot, other)).all()
