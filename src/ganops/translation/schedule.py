"""The reference learning-rate schedule: constant, then linear decay towards 0.

junyanz's `linear` policy steps once per epoch with factor 1 − max(0, t + 1 − n_epochs) / (n_epochs_decay + 1)
for epoch t = 0, 1, …; here t counts scheduler steps, and the families step once per training step, so
`constant` and `decay` are in training steps (n_epochs · steps_per_epoch keeps the reference's shape).
torch's LambdaLR holds the state (last_epoch, base and last lrs), plain types only: its state_dict
restores the schedule exactly and loads with weights_only=True.
"""

from __future__ import annotations

import torch


def linear_decay_factor(step: int, constant: int, decay: int) -> float:
    """LR multiplier after `step` scheduler steps: 1 for the first `constant`, then down by 1/(decay + 1)."""
    return 1.0 - max(0, step + 1 - constant) / float(decay + 1)


def linear_decay(optimizer: torch.optim.Optimizer, constant: int, decay: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR with the reference's constant-then-linear shape (`constant`, `decay` >= 0 steps)."""
    if constant < 0 or decay < 0:
        raise ValueError(f"lr_constant_steps and lr_decay_steps must be >= 0 (got {constant}, {decay})")

    def factor(step: int) -> float:  # a plain function: LambdaLR stores None for it in its state_dict
        return max(0.0, linear_decay_factor(step, constant, decay))  # stays 0 past the planned steps

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
