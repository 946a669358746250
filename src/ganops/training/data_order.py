"""Seeded, checkpointable order of training items (one per data stream)."""

from __future__ import annotations

from typing import Any

import torch


class DataOrder:
    """Index batches from a per-epoch permutation drawn from a seeded torch.Generator (checkpointable).

    With world_size > 1 every rank draws the same permutation and takes the disjoint shard
    perm[:N // world_size * world_size][rank::world_size], so all ranks turn epochs together."""

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        device: str = "cpu",
    ) -> None:
        self.num_items, self.batch_size, self.device = num_items, batch_size, device
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self._set_perm(torch.randperm(num_items, generator=self.generator))

    def _set_perm(self, perm: torch.Tensor) -> None:
        self.perm = perm  # (N,) the whole epoch's order, identical on every rank (checkpointed)
        if self.world_size > 1:
            perm = perm[: len(perm) // self.world_size * self.world_size][self.rank :: self.world_size]
        # (N // world_size,) this rank's part, on the training device: one copy per epoch, not per step
        self.shard = perm.to(self.device)

    def next_indices(self) -> torch.Tensor:  # (B,) int64 on `device`; drops the incomplete tail of an epoch
        if self.pos + self.batch_size > len(self.shard):
            self._set_perm(torch.randperm(self.num_items, generator=self.generator))
            self.epoch, self.pos = self.epoch + 1, 0
        idx = self.shard[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "perm": self.perm,
            "epoch": self.epoch,
            "pos": self.pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._set_perm(state["perm"])
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
