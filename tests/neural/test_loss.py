"""The fused training loss equals torch's cross-entropy in value and gradient."""

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from langmodels.neural.batching import IGNORE  # noqa: E402
from langmodels.neural.loss import summed_cross_entropy  # noqa: E402


def both(logits, target, scale=1.0):
    """(loss, grad) of ours and of F.cross_entropy on the same logits, through a matmul."""
    out = []
    for fn in (summed_cross_entropy,
               lambda z, y: F.cross_entropy(z, y, ignore_index=IGNORE, reduction="sum")):
        h = logits.clone().requires_grad_()
        z = h * 1.0                       # a non-leaf, like the output layer's result
        loss = fn(z, target)
        (loss * scale).backward()
        out.append((loss.detach(), h.grad))
    return out


def test_value_and_gradient_match_torch_with_ignored_rows():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 17, generator=g, dtype=torch.float64) * 3
    target = torch.randint(17, (40,), generator=g)
    target[::5] = IGNORE
    (ours, ours_grad), (ref, ref_grad) = both(logits, target, scale=0.37)
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)
    assert torch.allclose(ours_grad, ref_grad, rtol=0, atol=1e-14)
    assert torch.all(ours_grad[::5] == 0)                    # ignored rows get no gradient


def test_reshaped_view_of_three_dimensional_logits():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 11, generator=g, dtype=torch.float64)
    target = torch.randint(11, (3, 5), generator=g)
    h = logits.clone().requires_grad_()
    summed_cross_entropy((h * 1.0).reshape(-1, 11), target.reshape(-1)).backward()
    ref = logits.clone().requires_grad_()
    F.cross_entropy(ref.reshape(-1, 11), target.reshape(-1), reduction="sum").backward()
    assert torch.allclose(h.grad, ref.grad, rtol=0, atol=1e-14)


def test_large_logits_stay_finite():
    logits = torch.tensor([[1e4, 0.0, -1e4], [50.0, 51.0, 52.0]], dtype=torch.float32)
    (ours, grad), (ref, ref_grad) = both(logits, torch.tensor([1, 2]))
    assert torch.isfinite(ours) and torch.allclose(ours, ref)
    assert torch.allclose(grad, ref_grad, atol=1e-6)


def test_all_rows_ignored():
    (ours, grad), _ = both(torch.randn(4, 6), torch.full((4,), IGNORE))
    assert ours.item() == 0.0 and torch.all(grad == 0)


def test_misuse_of_the_overwritten_logits_fails_loudly():
    # exp() saves its output for backward; overwriting that output must not pass silently
    h = torch.randn(4, 6, requires_grad=True)
    z = h.exp()
    loss = summed_cross_entropy(z, torch.tensor([0, 1, 2, 3])) + z.sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_bfloat16_logits_are_reduced_in_float32_block_by_block():
    """bf16 logits (autocast's output layer): the loss is float32 and equals torch's cross-entropy
    on the same values in float32; the gradient is bf16 and equal to it to bf16 rounding. 150 rows
    span three blocks of the CPU's 64."""
    g = torch.Generator().manual_seed(2)
    logits = (torch.randn(150, 300, generator=g) * 4).to(torch.bfloat16)
    target = torch.randint(300, (150,), generator=g)
    target[7::11] = IGNORE
    h = logits.clone().requires_grad_()
    loss = summed_cross_entropy(h * 1.0, target)
    (loss * 0.5).backward()
    ref_h = logits.float().requires_grad_()
    ref = F.cross_entropy(ref_h, target, ignore_index=IGNORE, reduction="sum")
    (ref * 0.5).backward()
    assert loss.dtype == torch.float32 and h.grad.dtype == torch.bfloat16
    assert torch.allclose(loss, ref, rtol=1e-6, atol=0)
    assert torch.allclose(h.grad.float(), ref_h.grad, rtol=0, atol=2e-3)
    assert torch.all(h.grad[7::11] == 0)
