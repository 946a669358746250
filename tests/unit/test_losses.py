"""GAN losses against their textbook formulas, the penalties on analytic critics, and DiffAugment."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganops.image.augment import diff_augment
from ganops.training.losses import LOSSES, gradient_penalty, r1_penalty, validate_loss

REAL = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
FAKE = torch.tensor([-3.0, 0.2, 1.0], dtype=torch.float64)


def test_registry_names():
    assert set(LOSSES) == {"minimax", "non_saturating", "wgan_gp", "hinge", "least_squares"}


def test_minimax_is_goodfellows_value_function():
    d_real, d_fake = torch.sigmoid(REAL), torch.sigmoid(FAKE)
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # V(D, G)
    torch.testing.assert_close(LOSSES["minimax"].d_loss(REAL, FAKE, 0.0), -value)  # D maximises V
    torch.testing.assert_close(LOSSES["minimax"].g_loss(FAKE), torch.log(1 - d_fake).mean())  # G minimises


def test_minimax_saturates_where_non_saturating_does_not():
    fake = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects the fake
    (g_minimax,) = torch.autograd.grad(LOSSES["minimax"].g_loss(fake), fake)
    (g_non_sat,) = torch.autograd.grad(LOSSES["non_saturating"].g_loss(fake), fake)
    assert abs(g_minimax.item()) < 1e-3
    assert abs(g_non_sat.item()) > 0.99
    torch.testing.assert_close(LOSSES["non_saturating"].g_loss(FAKE), -torch.log(torch.sigmoid(FAKE)).mean())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_are_finite_at_extreme_logits(name):
    big = torch.tensor([-200.0, 200.0], requires_grad=True)
    loss = LOSSES[name].d_loss(big, -big, 0.0) + LOSSES[name].g_loss(big)
    (grad,) = torch.autograd.grad(loss, big)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_one_sided_label_smoothing_only_moves_the_real_target():
    s = 0.1
    expected = F.binary_cross_entropy_with_logits(REAL, torch.full_like(REAL, 1 - s))
    expected = expected + F.binary_cross_entropy_with_logits(FAKE, torch.zeros_like(FAKE))
    torch.testing.assert_close(LOSSES["non_saturating"].d_loss(REAL, FAKE, s), expected)
    lsq = 0.5 * ((REAL - 0.9) ** 2).mean() + 0.5 * (FAKE**2).mean()
    torch.testing.assert_close(LOSSES["least_squares"].d_loss(REAL, FAKE, s), lsq)


def test_wgan_hinge_least_squares_formulas():
    torch.testing.assert_close(LOSSES["wgan_gp"].d_loss(REAL, FAKE, 0.0), FAKE.mean() - REAL.mean())
    torch.testing.assert_close(LOSSES["wgan_gp"].g_loss(FAKE), -FAKE.mean())
    hinge = torch.relu(1 - REAL).mean() + torch.relu(1 + FAKE).mean()
    torch.testing.assert_close(LOSSES["hinge"].d_loss(REAL, FAKE, 0.0), hinge)
    torch.testing.assert_close(LOSSES["least_squares"].g_loss(FAKE), 0.5 * ((FAKE - 1) ** 2).mean())


class Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_on_a_linear_critic():
    x, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    unit = torch.full((1, 2, 2), 0.5)  # norm 1 → zero penalty
    assert gradient_penalty(Linear(unit), x, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(Linear(2 * unit), x, fake).item() == pytest.approx(1.0)  # (2 - 1)^2
    penalty = gradient_penalty(D := Linear(2 * unit), x, fake)
    penalty.backward()  # differentiable w.r.t. D's weights (create_graph)
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_r1_penalty_on_a_linear_critic():
    w = torch.tensor([[[1.0, 2.0], [0.0, 2.0]]])
    assert r1_penalty(Linear(w), torch.randn(3, 1, 2, 2)).item() == pytest.approx(9.0)


def test_validate_loss_messages():
    from types import SimpleNamespace

    with pytest.raises(ValueError, match=r"gan.variants.v.loss: unknown loss 'bce'.*hinge"):
        validate_loss(SimpleNamespace(loss="bce", label_smoothing=0.0), "v")
    with pytest.raises(ValueError, match="label_smoothing"):
        validate_loss(SimpleNamespace(loss="hinge", label_smoothing=0.1), "v")
    validate_loss(SimpleNamespace(loss="minimax", label_smoothing=0.1), "v")


def test_diff_augment_is_random_shape_preserving_and_differentiable():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    torch.manual_seed(0)
    out = diff_augment(x)
    assert out.shape == x.shape
    assert not torch.allclose(out, x)
    assert ((out == 0).flatten(1).sum(1) > 0).all()  # every image has a cut-out (or shifted-in) zero area
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.manual_seed(0)
    again = diff_augment(x.detach())
    torch.testing.assert_close(out.detach(), again)  # seeded by the global torch RNG
