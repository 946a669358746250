"""The shared adversarial training loop: one variant of any family, resumable bit-exactly.

A family (training.family) supplies its models, optimisers, one training step, a sampler and an
exporter; this loop owns the rest. Data arrive as named streams of equally long arrays (e.g.
{"real": {"image": (N, C, H, W), "label": (N,)}}); each stream has its own seeded, checkpointed
DataOrder (the first uses `seed`, the k-th `seed + k`). Float arrays go to the device once, mapped from
[0, 1] to [-1, 1]; integer arrays stay int64.

Runs on CPU or CUDA; data order, noise and augmentation are seeded and their state checkpointed, so on
CPU with `gan.deterministic` a killed and restarted run ends with weights bit-identical to an
uninterrupted one. A non-finite logged value stops the run with `DivergenceError`, leaving the last good
checkpoint in place.

With a `quality` probe (e.g. evaluation.quality.make_quality_probe), each checkpoint also scores the
family's sampler, logs the values, appends them to quality.csv and, when `quality_key` improves, exports
that model: the final export is then the best checkpoint's, not the last one. The best step, value and
weights live in the checkpoint, so a resumed run picks the same checkpoint as an uninterrupted one.

Under `torchrun` (`dist` from core.distributed.init_from_env, world_size > 1) the family wraps its
modules in DDP (BuildContext.distributed); each rank draws a disjoint shard of the same seeded epoch
permutation, with noise seeded by seed + rank. Only rank 0 writes checkpoints, samples, CSVs and the
export, shows the progress bar and calls `log` / `quality`. Every rank resumes from the same
checkpoint; the noise streams are then reseeded from (seed, rank, step), so a DDP resume is exact in
weights, optimisers and data order but not in noise.

`cfg` / `gan` are any objects with the VariantConfig / GanConfig attributes the family reads: this
module never imports pydantic, so tools such as benchmarks/gpu_check.py can run it with torch + numpy.
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganops.config.plain import config_dict
from ganops.core.artifacts import LOSSES_CSV, QUALITY_CSV
from ganops.core.devices import pick_device
from ganops.core.distributed import SINGLE, DistInfo, all_reduce_mean, barrier
from ganops.evaluation.metric_keys import lower_is_better
from ganops.training.checkpoint import CHECKPOINT, RunState, load_checkpoint, run_config_mismatch
from ganops.training.csv_log import append_row, write_csv
from ganops.training.data_order import DataOrder
from ganops.training.family import BuildContext, Family
from ganops.training.guard import DivergenceError, NonFiniteGuard

# Config fields that may change between a checkpoint and its resume (they do not alter the maths of the
# steps already taken); a config class may name its own as `schedule_fields`.
SCHEDULE_FIELDS = ("num_steps", "checkpoint_every", "log_every")

__all__ = ["DivergenceError", "TrainResult", "TrainingInterrupted", "train"]


class TrainingInterrupted(Exception):
    """Raised by the `stop_after` test hook to simulate a run killed after a given step."""


@dataclass
class TrainResult:
    steps: int  # training steps done in total (including those before a resume)
    seconds: float  # wall time of this call's training loop
    images_per_second: float  # real items through D per second in this call (batch · n_critic · steps / s)
    losses: dict[str, float]  # last logged values (the family's log_keys)
    device: str
    resumed_from: int | None  # step of the checkpoint this call resumed from
    best_step: int | None = None  # checkpoint step whose model was exported (None without a probe)
    best_quality: float | None = None  # its `quality_key` value
    quality_seconds: float = 0.0  # wall time spent in the quality probe in this call (part of `seconds`)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seed the legacy global RNG for third-party code)
    torch.manual_seed(seed)


def data_fingerprint(streams: dict[str, dict[str, np.ndarray]]) -> str:
    digest = hashlib.sha256()
    for stream in streams.values():
        for array in stream.values():
            digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


def _check_streams(streams: dict[str, dict[str, np.ndarray]], batch_size: int, key: str, world: int) -> None:
    for name, stream in streams.items():
        lengths = {k: len(v) for k, v in stream.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"training stream {name!r}: arrays of different lengths {lengths}")
        count = next(iter(lengths.values())) // world
        if count < batch_size:
            per = " per process" if world > 1 else ""
            raise ValueError(
                f"{key}.batch_size: {batch_size}{per} is more than the {count} training items"
                + (f" each of the {world} processes gets" if world > 1 else "")
            )


def _to_device(array: np.ndarray, device: str, channels_last: bool) -> torch.Tensor:
    if np.issubdtype(array.dtype, np.floating):
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device) * 2 - 1  # [-1, 1]
        if channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    return torch.from_numpy(np.asarray(array, dtype=np.int64)).to(device)


def _improves(value: float, best: dict[str, Any], lower_better: bool) -> bool:
    """Whether `value` beats the best so far (`best` empty: any finite value does; NaN never does)."""
    if not np.isfinite(value):
        return False
    if not best:
        return True
    return value < best["value"] if lower_better else value > best["value"]


class _Deterministic:
    """torch.use_deterministic_algorithms for the duration of a run, restored afterwards."""

    def __init__(self, on: bool, device: str) -> None:
        self.on, self.device, self.previous = on, device, torch.are_deterministic_algorithms_enabled()

    def __enter__(self) -> None:
        if self.on and not self.previous:
            if self.device.startswith("cuda"):
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: object) -> None:
        if torch.are_deterministic_algorithms_enabled() != self.previous:
            torch.use_deterministic_algorithms(self.previous)


def train(
    family: Family,
    variant: str,
    cfg: Any,
    gan: Any,
    streams: dict[str, dict[str, np.ndarray]],
    out_dir: Path,
    checkpoint_dir: Path,
    seed: int,
    *,
    num_classes: int = 0,
    class_names: list[str] | None = None,
    log: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    quality: Callable[[nn.Module, dict[str, Any]], dict[str, float]] | None = None,
    quality_key: str | None = None,
    dist: DistInfo = SINGLE,
    config_key: str | None = None,
) -> TrainResult:
    """Train `variant` of `family` on `streams`; see the module docstring.

    Writes out_dir/{losses.csv, quality.csv, the family's samples and export} and checkpoint_dir/last.pt;
    resumes from last.pt when present (a checkpoint made with other settings is refused, naming them).
    `stop_after` (tests only) raises TrainingInterrupted once that many steps are done, as if killed.
    quality: called as `quality(model, meta)` at every checkpoint with the family's sampler (meta:
    {"variant_config", "num_classes"}); quality_key: the metric that picks the exported checkpoint
    (lower is better for FID/KID, higher for IS). The probe must not touch the global RNGs.
    config_key: how messages name the variant's config (default `<family>.variants.<variant>`).
    """
    from tqdm import tqdm

    out_dir, checkpoint_dir = Path(out_dir), Path(checkpoint_dir)
    config_key = config_key or f"{family.name}.variants.{variant}"
    _check_streams(streams, cfg.batch_size, config_key, dist.world_size)
    if quality_key is not None and quality is None:
        raise ValueError(f"quality_key {quality_key!r} given without a quality probe to compute it")
    device = dist.device or pick_device(gan.device)
    schedule = getattr(type(cfg), "schedule_fields", SCHEDULE_FIELDS)
    shapes = {
        s: {k: tuple(int(d) for d in v.shape[1:]) for k, v in arrays.items()} for s, arrays in streams.items()
    }
    run_config = {
        "family": family.name,
        "variant": variant,
        "variant_config": {k: v for k, v in config_dict(cfg).items() if k not in schedule},
        "seed": int(seed),
        "shapes": {s: {k: list(v) for k, v in keys.items()} for s, keys in shapes.items()},
        "num_classes": num_classes,
        "data": data_fingerprint(streams),
        "quality_key": quality_key,  # the best checkpoint so far is only meaningful for the same metric
    }
    if dist.enabled:  # a shard position means nothing under another process count
        run_config["world_size"] = dist.world_size
    meta = {"variant_config": config_dict(cfg), "num_classes": num_classes}
    checkpoint_path = checkpoint_dir / CHECKPOINT
    with _Deterministic(bool(getattr(gan, "deterministic", False)), device):
        # --- setup: seed, build, maybe resume ---
        seed_everything(seed)
        ctx = BuildContext(
            cfg, device, shapes, num_classes, variant, seed, gan, dist.enabled, tuple(class_names or ())
        )
        parts = family.build(ctx)
        if dist.enabled:
            seed_everything(seed + dist.rank)  # same initial weights, different noise per rank
        orders = {
            name: DataOrder(len(next(iter(arrays.values()))), cfg.batch_size, seed + k, dist.rank, dist.world_size, device)
            for k, (name, arrays) in enumerate(streams.items())
        }  # fmt: skip
        channels_last = bool(getattr(gan, "channels_last", False))
        data = {
            s: {k: _to_device(v, device, channels_last) for k, v in a.items()} for s, a in streams.items()
        }
        state = RunState(run_config, parts, orders)
        if checkpoint_path.is_file():
            ckpt = load_checkpoint(checkpoint_path)
            differing = run_config_mismatch(ckpt, run_config)
            if differing:
                raise ValueError(
                    f"{checkpoint_path}: checkpoint was made with different settings "
                    f"({', '.join(differing)}); delete it to start afresh"
                )
            state.load_state_dict(ckpt, device)
            if dist.enabled:  # the checkpoint holds rank 0's RNG state: give each rank its own again
                seed_everything(seed + dist.rank + dist.world_size * state.step)
            if dist.is_main:
                print(f"resuming {variant} from step {state.step}")
        resumed_from = state.step if checkpoint_path.is_file() else None
        if dist.enabled:
            barrier()  # every rank has read the checkpoint before rank 0 may overwrite it
        result = _run(family, cfg, state, data, out_dir, checkpoint_path, seed, meta, log, stop_after,
                      quality, quality_key, dist, tqdm, variant)  # fmt: skip
        if dist.enabled:
            barrier()  # rank 0's files are complete when any rank returns
    result.device, result.resumed_from = device, resumed_from
    return result


def _run(family, cfg, state, data, out_dir, checkpoint_path, seed, meta, log, stop_after, quality,
         quality_key, dist, tqdm, variant) -> TrainResult:  # fmt: skip
    """The training phase of `train`: steps, logging, checkpoints, probes and the final export."""
    parts, log_keys = state.parts, family.log_keys
    losses_csv, quality_csv = out_dir / LOSSES_CSV, out_dir / QUALITY_CSV
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_csv(losses_csv, state.history, log_keys)
        if quality is not None:
            write_csv(quality_csv, state.quality_history, state.quality_columns)
    lower_better = quality_key is not None and lower_is_better(quality_key)
    quality_seconds = 0.0

    def export(model: nn.Module) -> None:
        if dist.is_main:
            family.export(parts, model, out_dir)

    def next_batch(stream: str) -> dict[str, torch.Tensor]:
        idx = state.orders[stream].next_indices()  # already on the device
        return {k: v[idx] for k, v in data[stream].items()}

    def checkpoint() -> None:
        if dist.is_main:
            state.save(checkpoint_path)
            family.save_samples(parts, out_dir, state.step, seed)

    def probe_quality() -> None:
        """Score the model we export; keep (and export) it when `quality_key` improves."""
        nonlocal quality_seconds
        started = time.perf_counter()
        metrics = {str(k): float(v) for k, v in quality(family.sampler(parts), meta).items()}
        quality_seconds += time.perf_counter() - started
        state.record_quality(metrics, quality_key, checkpoint_path)
        write_csv(quality_csv, state.quality_history, state.quality_columns)
        if log is not None:
            log(state.step, metrics)
        if quality_key is not None and _improves(metrics[quality_key], state.best, lower_better):
            sampler = family.sampler(parts)
            weights = {k: v.detach().cpu().clone() for k, v in sampler.state_dict().items()}
            state.best = {"step": state.step, "value": metrics[quality_key], "G": weights}
            export(sampler)  # the best so far is on disk even if the run dies later

    # --- train ---
    device = next(iter(state.orders.values())).device
    guard_every = 1 if device == "cpu" else cfg.log_every  # a device sync per check on CUDA
    guard = NonFiniteGuard(device, log_keys)
    images_per_step = cfg.batch_size * getattr(cfg, "n_critic", 1)
    last: dict[str, float] = {}
    bar = tqdm(
        total=cfg.num_steps, initial=state.step, desc=variant, unit="step", file=sys.stderr, leave=False,
        disable=not dist.is_main,
    )  # fmt: skip
    start_step, started = state.step, time.perf_counter()
    with bar:
        while state.step < cfg.num_steps:
            values = family.train_step(parts, next_batch, state.step)
            state.step += 1
            step = state.step
            guard.update(values, step)
            bar.update(1)
            due_log = step % cfg.log_every == 0 or step == cfg.num_steps
            due_checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.num_steps
            # every rank checks at the same steps, so all stop together, naming the first bad one
            if step % guard_every == 0 or due_log or due_checkpoint:
                bad = guard.first_bad()
                if bad is not None:
                    raise DivergenceError(
                        f"{variant}: loss became NaN/inf at step {bad}; last good checkpoint kept in "
                        f"{checkpoint_path} (try a lower lr, another loss, or gp/r1 regularisation)"
                    )
            if due_log:
                logged = torch.stack([values[k].float() for k in log_keys])
                if dist.enabled:
                    logged = all_reduce_mean(logged)
                last = dict(zip(log_keys, logged.tolist(), strict=True))
            if due_log and dist.is_main:
                state.history.append([step, *(last[k] for k in log_keys)])
                append_row(losses_csv, state.history[-1])
                rate = (step - start_step) * images_per_step / (time.perf_counter() - started)
                shown = {k.split("_")[-1][:6]: f"{last[k]:.3f}" for k in log_keys[:2]}
                bar.set_postfix(img_s=f"{rate:.0f}", **shown)
                if log is not None:
                    log(step, last)
            if due_checkpoint:
                if quality is not None and dist.is_main:
                    probe_quality()
                checkpoint()
            if stop_after is not None and step >= stop_after:
                raise TrainingInterrupted(f"stopped after step {step} (test hook)")
    seconds = time.perf_counter() - started
    if state.step == start_step:  # resumed a finished run: nothing to train, re-export
        checkpoint()
    best = state.best
    if best:  # the best checkpoint's model, from the checkpointed weights (exact after a resume)
        best_model = copy.deepcopy(family.sampler(parts))
        best_model.load_state_dict(best["G"])
        export(best_model)
    else:
        if quality_key is not None and dist.is_main:
            print(f"{variant}: {quality_key} was never finite; exporting the last model", file=sys.stderr)
        export(family.sampler(parts))
    steps_run = state.step - start_step
    if not last and state.history:
        last = dict(zip(log_keys, state.history[-1][1:], strict=True))
    return TrainResult(
        steps=state.step,
        seconds=seconds,
        images_per_second=steps_run * images_per_step / seconds if seconds > 0 else 0.0,
        losses=last,
        device="",
        resumed_from=None,
        best_step=int(best["step"]) if best else None,
        best_quality=float(best["value"]) if best else None,
        quality_seconds=quality_seconds,
    )
