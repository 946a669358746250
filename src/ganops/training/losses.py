"""GAN value functions by name, plus the gradient penalties as separate small functions.

Each loss has `d_loss(real_logits, fake_logits, label_smoothing) -> scalar` (minimised by D) and
`g_loss(fake_logits) -> scalar` (minimised by G); logits are D's raw outputs (B,). Probabilities are
never formed: log D = logsigmoid(l) and log(1 - D) = logsigmoid(-l), stable for any logit.
One-sided label smoothing (Salimans et al. 2016) replaces only the real target 1 with 1 - s, and
applies to the target-based losses (minimax, non_saturating, least_squares).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

DLoss = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
GLoss = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GanLoss:
    name: str
    d_loss: DLoss
    g_loss: GLoss
    smoothing: bool = False  # one-sided label smoothing applies
    gradient_penalty: bool = False  # WGAN-GP: add gp_weight * gradient_penalty to the D loss


LOSSES: dict[str, GanLoss] = {}


def register_loss(name: str, g_loss: GLoss, **flags: bool) -> Callable[[DLoss], DLoss]:
    """Decorate a d_loss; its g_loss and flags are given here."""

    def decorate(d_loss: DLoss) -> DLoss:
        LOSSES[name] = GanLoss(name, d_loss, g_loss, **flags)
        return d_loss

    return decorate


def _bce_d(real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """-[ t log D(x) + (1 - t) log(1 - D(x)) ] - log(1 - D(G(z))) with real target t = 1 - s."""
    if label_smoothing == 0:  # t = 1: five fewer ops per step (small GANs are dispatch-bound on GPU)
        real = F.logsigmoid(real_logits)
    else:
        target = 1.0 - label_smoothing
        real = target * F.logsigmoid(real_logits) + (1.0 - target) * F.logsigmoid(-real_logits)
    return -(real.mean() + F.logsigmoid(-fake_logits).mean())


def minimax_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. 2014, saturating form: G minimises log(1 - D(G(z)))."""
    return F.logsigmoid(-fake_logits).mean()


def non_saturating_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)), i.e. minimises -log D(G(z))."""
    return -F.logsigmoid(fake_logits).mean()


@register_loss("minimax", minimax_g, smoothing=True)
def minimax_d(real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """D maximises log D(x) + log(1 - D(G(z))): we minimise its negative."""
    return _bce_d(real_logits, fake_logits, label_smoothing)


@register_loss("non_saturating", non_saturating_g, smoothing=True)
def non_saturating_d(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    return _bce_d(real_logits, fake_logits, label_smoothing)


def wgan_g(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


@register_loss("wgan_gp", wgan_g, gradient_penalty=True)
def wgan_d(real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Critic loss E[D(G(z))] - E[D(x)] (Gulrajani et al. 2017); the penalty is added by the caller."""
    return fake_logits.mean() - real_logits.mean()


@register_loss("hinge", wgan_g)
def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G minimises -E[D(G(z))] (Lim & Ye 2017, SNGAN)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def least_squares_g(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake_logits - 1.0).pow(2).mean()


@register_loss("least_squares", least_squares_g, smoothing=True)
def least_squares_d(real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """LSGAN (Mao et al. 2017) with targets fake 0, real 1 - s."""
    return 0.5 * (real_logits - (1.0 - label_smoothing)).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


# --- penalties ---


def gradient_penalty(
    D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None = None
) -> torch.Tensor:
    """WGAN-GP: E[(||∇D(x̂)||₂ - 1)²] at random interpolates x̂ of real and fake (B, C, H, W)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(mixed, y).sum(), mixed, create_graph=True)  # (B, C, H, W)
    return (grad.float().flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(D: nn.Module, real: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||∇D(x)||²] on real images; the caller scales it by r1_weight / 2."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real, y).sum(), real, create_graph=True)  # (B, C, H, W)
    return grad.float().flatten(1).pow(2).sum(dim=1).mean()


def validate_loss(cfg, variant: str = "") -> None:  # cfg: VariantConfig-like
    where = f"gan.variants.{variant}" if variant else "variant"
    if cfg.loss not in LOSSES:
        raise ValueError(f"{where}.loss: unknown loss {cfg.loss!r} (known: {', '.join(sorted(LOSSES))})")
    if cfg.label_smoothing > 0 and not LOSSES[cfg.loss].smoothing:
        raise ValueError(
            f"{where}.label_smoothing: applies to minimax, non_saturating and least_squares, "
            f"not {cfg.loss} (set it to 0)"
        )
