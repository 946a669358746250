"""Training checkpoints: one atomic `last.pt` holding everything needed to resume bit-exactly.

`RunState` is the one object a checkpoint is made from and restored into (state_dict /
load_state_dict): the family's parts (model and optimiser state dicts, pools, schedules ...), the step,
each stream's data order, every RNG state (torch CPU, CUDA when present, numpy, python `random`), the
loss and quality history, the best checkpoint so far and the run's config dict. Contents are plain
dicts of tensors, numbers, strings and lists (loadable with weights_only=True).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganops.core.artifacts import CHECKPOINT
from ganops.core.atomic import save_torch

__all__ = ["CHECKPOINT", "RunState", "load_checkpoint", "run_config_mismatch", "save_checkpoint"]

FORMAT = "ganops-checkpoint/2"  # /2: the shared loop (data order per stream)


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()  # noqa: NPY002 (the legacy global state is what we must save)
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": [py_version, list(py_internal), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` (+ format tag and RNG states) to `path` atomically: temp file, then os.replace."""
    payload = {"format": FORMAT, **payload, "rng": rng_state()}
    save_torch(path, payload)


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a readable checkpoint ({exc.__class__.__name__}); delete it to start afresh"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ganops training checkpoint; delete it to start afresh")
    return payload


def config_mismatch(saved: dict[str, Any], current: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Keys (dotted, one level deep for nested dicts) whose values differ between two config dicts."""
    differing = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differing += [f"{key}.{k}" for k in config_mismatch(a, b, ignore)]
        elif a != b:
            differing.append(key)
    return differing


def run_config_mismatch(checkpoint: dict[str, Any], run_config: dict[str, Any]) -> list[str]:
    """The settings (dotted keys) a checkpoint was made with that differ from this run's."""
    return config_mismatch(checkpoint["config"], run_config)


@dataclass
class RunState:
    """Everything a resume restores: the family's parts plus the loop's own state (LOOP_KEYS)."""

    config: dict[str, Any]
    parts: Any  # the family's parts: state_dict() / load_state_dict(state, device)
    orders: dict[str, Any]  # stream -> DataOrder
    step: int = 0
    history: list[list[float]] = field(default_factory=list)  # [step, *log values] per logged step
    quality_columns: list[str] = field(default_factory=list)  # the probe's metric names, fixed by its first call
    quality_history: list[list[float]] = field(default_factory=list)  # [step, *values] per checkpoint
    best: dict[str, Any] = field(default_factory=dict)  # {"step", "value", "G": state dict} of the best so far

    LOOP_KEYS = ("format", "config", "step", "data_order", "history", "quality_columns", "quality_history",
                 "best", "rng")  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        parts = self.parts.state_dict()
        clash = set(parts) & set(self.LOOP_KEYS)
        assert not clash, f"family state keys clash with the loop's: {sorted(clash)}"
        return {
            "config": self.config,
            "step": self.step,
            **parts,
            "data_order": {name: order.state_dict() for name, order in self.orders.items()},
            "history": self.history,
            "quality_columns": self.quality_columns,
            "quality_history": self.quality_history,
            "best": self.best,
        }

    def load_state_dict(self, state: dict[str, Any], device: str) -> None:
        """Restore from a loaded checkpoint, global RNG states last."""
        self.parts.load_state_dict(state, device)
        for name, order in self.orders.items():
            order.load_state_dict(state["data_order"][name])
        self.step = int(state["step"])
        self.history = [list(row) for row in state["history"]]
        self.quality_columns = [str(c) for c in state.get("quality_columns", [])]
        self.quality_history = [list(row) for row in state.get("quality_history", [])]
        self.best = dict(state.get("best", {}))
        set_rng_state(state["rng"])

    def save(self, path: Path) -> None:
        save_checkpoint(path, self.state_dict())

    def record_quality(self, metrics: dict[str, float], quality_key: str | None, path: Path) -> None:
        """Append a probe result; the probe must return the same metrics at every checkpoint."""
        if not self.quality_columns:
            self.quality_columns.extend(metrics)
        if sorted(metrics) != sorted(self.quality_columns):
            raise ValueError(
                f"quality probe returned {sorted(metrics)}, but this run recorded {self.quality_columns}; "
                f"delete {path} to start afresh"
            )
        if quality_key is not None and quality_key not in metrics:
            raise ValueError(f"quality_key {quality_key!r} is not among the probe's metrics {sorted(metrics)}")
        self.quality_history.append([self.step, *(metrics[k] for k in self.quality_columns)])
