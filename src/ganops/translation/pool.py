"""The image pool of Shrivastava et al. (2017), as CycleGAN uses it: D sees a history of fakes.

Until the pool holds `size` images, each new fake is stored and returned. Once full, each new fake
is, with probability ½, swapped for a random stored one (which is returned and replaced by the new
fake), else returned as is. Draws come from the pool's own CPU torch.Generator, so they do not touch
the global RNG, do not depend on the device, and are restored exactly by load_state_dict. Hand-written:
no maintained library ships it (the reference is 40 lines inside its repo).
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"pool_size must be >= 0 (got {size}); 0 turns the pool off")
        self.size = size
        self.generator = torch.Generator().manual_seed(seed)
        self.images: torch.Tensor | None = None  # (size, C, H, W) once the first batch arrives
        self.count = 0

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """Fakes (B, C, H, W) → the batch D should see (B, C, H, W), detached."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        if self.images is None:
            self.images = torch.empty((self.size, *fakes.shape[1:]), dtype=fakes.dtype, device=fakes.device)
        coins = torch.rand(len(fakes), generator=self.generator)  # (B,) one draw per image, always
        slots = torch.randint(self.size, (len(fakes),), generator=self.generator)  # (B,)
        out = []
        for i, fake in enumerate(fakes):  # sequential: a slot drawn twice in one batch swaps twice
            if self.count < self.size:
                self.images[self.count] = fake
                self.count += 1
                out.append(fake)
            elif coins[i] > 0.5:
                slot = int(slots[i])
                out.append(self.images[slot].clone())
                self.images[slot] = fake
            else:
                out.append(fake)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stored = None if self.images is None else self.images[: self.count].cpu().clone()
        return {
            "size": self.size,
            "count": self.count,
            "images": stored,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any], device: str = "cpu") -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"pool_size: checkpoint has {state['size']}, config {self.size} (use the same)")
        self.count = int(state["count"])
        self.generator.set_state(state["generator"])
        if state["images"] is None:
            self.images = None
            return
        stored = state["images"].to(device)
        self.images = torch.empty((self.size, *stored.shape[1:]), dtype=stored.dtype, device=device)
        self.images[: self.count] = stored
