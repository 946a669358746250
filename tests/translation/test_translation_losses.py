"""Reference-scaled adversarial losses, cycle/identity terms and the LR schedule, on hand-computable cases."""

import io
import math

import pytest
import torch
import torch.nn.functional as F

from ganops.translation.losses import adversarial, cycle_loss, identity_applies, l1
from ganops.translation.schedule import linear_decay, linear_decay_factor


def test_vanilla_gan_loss_by_hand():
    d_loss, g_loss = adversarial("non_saturating")
    zeros = torch.zeros(2, 1, 3, 3)  # D undecided everywhere: every BCE term is log 2
    assert d_loss(zeros, zeros).item() == pytest.approx(math.log(2))  # 0.5·(log 2 + log 2)
    assert g_loss(zeros).item() == pytest.approx(math.log(2))
    real, fake = torch.randn(4, 1, 5, 5), torch.randn(4, 1, 5, 5)
    reference_d = 0.5 * (
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    )
    assert d_loss(real, fake).item() == pytest.approx(reference_d.item(), rel=1e-6)
    assert g_loss(fake).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)).item(), rel=1e-6
    )


def test_lsgan_loss_by_hand():
    d_loss, g_loss = adversarial("least_squares")
    ones, zeros = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    assert d_loss(ones, zeros).item() == 0.0  # perfect D
    assert d_loss(zeros, ones).item() == pytest.approx(1.0)  # 0.5·(1 + 1)
    assert g_loss(zeros).item() == pytest.approx(1.0)  # MSE(0, 1), as the reference's lsgan
    assert g_loss(torch.full((1, 1, 2, 2), 3.0)).item() == pytest.approx(4.0)
    real, fake = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    reference_d = 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
    assert d_loss(real, fake).item() == pytest.approx(reference_d.item(), rel=1e-6)


def test_unsupported_losses_name_the_key():
    with pytest.raises(ValueError, match="gan_loss: unknown or unsupported loss 'wgan_gp'"):
        adversarial("wgan_gp")
    with pytest.raises(ValueError, match="gan_loss"):
        adversarial("nope")


def test_l1_cycle_and_identity_terms():
    a, b = torch.zeros(2, 1, 4, 4), torch.ones(2, 3, 4, 4)
    assert l1(a + 0.25, a).item() == pytest.approx(0.25)
    assert cycle_loss(a + 0.5, a, b, b).item() == pytest.approx(0.5)
    assert cycle_loss(a - 0.5, a, b - 1.0, b).item() == pytest.approx(1.5)
    assert identity_applies(3, 3) and not identity_applies(1, 3)


def test_linear_decay_factor_by_hand():
    # 3 constant steps then 3 decay steps: the reference's 1 - max(0, t + 1 - n) / (n_decay + 1)
    assert [linear_decay_factor(t, 3, 3) for t in range(7)] == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]


def _lrs(scheduler, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return out


def test_schedule_and_its_state_round_trip():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    scheduler = linear_decay(opt, constant=2, decay=3)
    assert _lrs(scheduler, 8) == pytest.approx([0.2, 0.2, 0.15, 0.1, 0.05, 0.0, 0.0, 0.0])

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    first = linear_decay(opt, constant=2, decay=3)
    _lrs(first, 3)
    buffer = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "sched": first.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    opt2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    second = linear_decay(opt2, constant=2, decay=3)
    opt2.load_state_dict(state["opt"])
    second.load_state_dict(state["sched"])
    assert _lrs(second, 4) == _lrs(first, 4)
    with pytest.raises(ValueError, match="lr_constant_steps"):
        linear_decay(opt, -1, 3)
