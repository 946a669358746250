"""Pick the torch device named in params (`gan.device`): `auto` means CUDA when present, else CPU."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str = "auto") -> str:
    """`auto` | `cpu` | `cuda` → a torch device string; asking for CUDA without one is a user error."""
    if name not in DEVICES:
        raise ValueError(f"gan.device: must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "gan.device: cuda requested but no CUDA device is visible; set gan.device: auto or cpu"
        )
    return name


def set_cpu_threads(num_threads: int) -> None:
    """Pin torch's intra-op CPU threads (`gan.cpu_threads`); 0 keeps torch's default."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)
