"""Pick the torch device named in params (`gan.device`): `auto` means CUDA when present, else CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str = "auto") -> str:
    """`auto` | `cpu` | `cuda` → a torch device string; asking for CUDA without one is a user error."""
    if name not in DEVICES:
        raise ValueError(f"gan.device: must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("gan.device: cuda requested but no CUDA device is visible; set gan.device: auto or cpu")
    return name


def set_cpu_threads(num_threads: int) -> None:
    """Pin torch's intra-op CPU threads (`gan.cpu_threads`); 0 keeps torch's default."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)


@contextlib.contextmanager
def cudnn_autotune(enabled: bool) -> Iterator[None]:
    """cuDNN benchmark mode (time the convolution algorithms once per input shape, keep the fastest)
    for the duration; the previous setting comes back after. Off in deterministic mode: the timed choice
    may differ from run to run."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous
