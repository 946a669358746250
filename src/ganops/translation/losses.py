"""pix2pix and CycleGAN objectives on top of the shared adversarial losses (ganops.training.losses).

Adversarial terms come from the LOSSES registry, scaled so that λ weights mean what they mean in the
reference (junyanz/pytorch-CycleGAN-and-pix2pix), which halves D's loss "to slow D down relative to G"
and uses plain BCE / MSE for G:
- `non_saturating` (the reference's `vanilla`): D = 0.5·[BCE(real, 1) + BCE(fake, 0)], G = BCE(fake, 1);
- `least_squares` (the reference's `lsgan`): D = 0.5·[MSE(real, 1) + MSE(fake, 0)], G = MSE(fake, 1)
  (the registry's LSGAN already halves D and also halves G, so G is scaled by 2 here).
Logits are PatchGAN maps (B, 1, h, w); the registry's losses average over every patch.

pix2pix:  L_G = adv + λ_L1·|G(a) − b|₁                                    (λ_L1 = 100)
CycleGAN: L_G = adv_ab + adv_ba + λ·(|F(G(a)) − a|₁ + |G(F(b)) − b|₁)
              + 0.5·λ·(|G(b) − b|₁ + |F(a) − a|₁)                        (λ = 10, identity share 0.5)
The identity term feeds a domain-B image to G (A → B), so it exists only when A and B have the same
channel count; gray ↔ colour translators go without it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganops.training.losses import LOSSES

# loss name -> (scale of the registry's d_loss, scale of its g_loss) giving the reference's values
REFERENCE_SCALE: dict[str, tuple[float, float]] = {"non_saturating": (0.5, 1.0), "least_squares": (1.0, 2.0)}
AdversarialPair = tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]


def adversarial(name: str, key: str = "gan_loss") -> AdversarialPair:
    """(d_loss(real_logits, fake_logits), g_loss(fake_logits)) for registry loss `name`, reference-scaled."""
    if name not in LOSSES or LOSSES[name].gradient_penalty:
        known = ", ".join(sorted(n for n, loss in LOSSES.items() if not loss.gradient_penalty))
        raise ValueError(f"{key}: unknown or unsupported loss {name!r} for translation (use one of: {known})")
    loss = LOSSES[name]
    d_scale, g_scale = REFERENCE_SCALE.get(name, (1.0, 1.0))

    def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return d_scale * loss.d_loss(real_logits, fake_logits, 0.0)

    def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
        return g_scale * loss.g_loss(fake_logits)

    return d_loss, g_loss


def l1(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over every element: (B, C, H, W) × 2 → scalar."""
    return F.l1_loss(x, target)


def cycle_loss(rec_a: torch.Tensor, a: torch.Tensor, rec_b: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|F(G(a)) − a|₁ + |G(F(b)) − b|₁, unweighted."""
    return l1(rec_a, a) + l1(rec_b, b)


def identity_applies(channels_a: int, channels_b: int) -> bool:
    """G (A → B) can take a B image only when both domains have the same channel count."""
    return channels_a == channels_b
