"""Multi-process data-parallel training under `torchrun`: one process per GPU (or per CPU process, gloo).

`torchrun --nproc_per_node=N -m ganops.cli.main train-gan VARIANT` starts N copies of the same entry point;
torchrun sets RANK, WORLD_SIZE, LOCAL_RANK (and MASTER_ADDR/PORT) in each. `init_from_env` reads them and
joins the process group; without them (a plain `ganops train-gan`) it returns a single-process DistInfo
and touches nothing, so every single-process path is unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ganops.core.devices import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    is_main: bool = True  # rank 0: the only process that logs, writes files and shows progress
    device: str = ""  # the device this process trains on ("" = let the caller pick from gan.device)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


SINGLE = DistInfo()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer (set by torchrun)") from None


def init_from_env(device: str = "auto") -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1; else return the single-process DistInfo.

    device: `gan.device` (auto | cpu | cuda). On CUDA each process trains on cuda:{LOCAL_RANK} with the
    nccl backend; on the CPU processes talk through gloo.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return SINGLE
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    name = pick_device(device)
    if name == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s) visible; "
                f"use torchrun --nproc_per_node <= the number of GPUs"
            )
        torch.cuda.set_device(local_rank)
        name = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if name.startswith("cuda") else "gloo")
    return DistInfo(rank, world_size, local_rank, rank == 0, name)


def wrap_ddp(module: nn.Module, device: str) -> nn.Module:
    """DistributedDataParallel around `module` (already on `device`); rank 0's weights are broadcast once.

    broadcast_buffers=False: D runs twice (real, fake) before one backward, and with buffer broadcasting
    each forward overwrites the batch-norm running statistics in place, which cuDNN's batch-norm backward
    still needs ("modified by an inplace operation" on CUDA; CPU kernels do not save them, so gloo runs
    never showed it). Training uses batch statistics; the running statistics only matter in eval mode,
    and only rank 0's are checkpointed and exported (the choice of StyleGAN2-ADA as well)."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)


def _running() -> bool:
    """A process group is up (torchrun with WORLD_SIZE > 1, or a test's own)."""
    return dist.is_available() and dist.is_initialized()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over ranks (a copy); the input itself when no process group is running."""
    if not _running():
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def all_reduce_min(values: torch.Tensor) -> torch.Tensor:
    if not _running():
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.MIN)
    return out


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if _running():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (no-op without one); call once at the end of the entry point."""
    if _running():
        dist.destroy_process_group()
