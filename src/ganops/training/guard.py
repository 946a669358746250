"""The non-finite guard: stop a diverged run, naming the first bad step."""

from __future__ import annotations

import torch

from ganops.core.distributed import all_reduce_min


class DivergenceError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class NonFiniteGuard:
    """The first step (counted from 1) with a NaN/inf among `keys`, kept on the training device:
    `update` adds no device sync to a step; `first_bad` syncs, and agrees across DDP ranks."""

    NEVER = torch.iinfo(torch.int64).max

    def __init__(self, device: str, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.first = torch.full((), self.NEVER, dtype=torch.long, device=device)

    def update(self, values: dict[str, torch.Tensor], step: int) -> None:
        """Checks the keys this step returned (a phase may compute only some: see Loop.log_values)."""
        present = [values[key] for key in self.keys if key in values]
        finite = torch.isfinite(present[0])
        for value in present[1:]:
            finite = finite & torch.isfinite(value)
        self.first = torch.where(finite, self.first, self.first.clamp(max=step))

    def first_bad(self) -> int | None:
        self.first = all_reduce_min(self.first)  # the input itself without a process group
        bad = int(self.first)
        return None if bad == self.NEVER else bad
