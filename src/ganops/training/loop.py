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
from ganops.training.determinism import Deterministic, seed_everything
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
    out_dir, checkpoint_dir = Path(out_dir), Path(checkpoint_dir)
    _check_streams(streams, cfg.batch_size, config_key or f"{family.name}.variants.{variant}", dist.world_size)
    if quality_key is not None and quality is None:
        raise ValueError(f"quality_key {quality_key!r} given without a quality probe to compute it")
    device = dist.device or pick_device(gan.device)
    shapes = {s: {k: tuple(int(d) for d in v.shape[1:]) for k, v in a.items()} for s, a in streams.items()}
    run_config = _run_config(family, variant, cfg, seed, shapes, num_classes, streams, quality_key, dist)
    checkpoint_path = checkpoint_dir / CHECKPOINT
    with Deterministic(bool(getattr(gan, "deterministic", False)), device):
        # --- setup: seed, build, maybe resume ---
        seed_everything(seed)
        ctx = BuildContext(cfg, device, shapes, num_classes, variant, seed, gan, dist.enabled, tuple(class_names or ()))
        parts = family.build(ctx)
        if dist.enabled:
            seed_everything(seed + dist.rank)  # same initial weights, different noise per rank
        rank, world = dist.rank, dist.world_size
        orders = {  # stream k draws its order from seed + k
            name: DataOrder(len(next(iter(a.values()))), cfg.batch_size, seed + k, rank, world, device)
            for k, (name, a) in enumerate(streams.items())
        }
        channels_last = bool(getattr(gan, "channels_last", False))
        data = {s: {k: _to_device(v, device, channels_last) for k, v in a.items()} for s, a in streams.items()}
        state = RunState(run_config, parts, orders)
        resumed_from = _resume(state, checkpoint_path, device, seed, dist, variant)
        if dist.enabled:
            barrier()  # every rank has read the checkpoint before rank 0 may overwrite it
        meta = {"variant_config": config_dict(cfg), "num_classes": num_classes}
        session = _Session(family, cfg, state, data, out_dir, checkpoint_path, seed, meta, variant, dist,
                           log, quality, quality_key)  # fmt: skip
        result = session.run(stop_after)
        if dist.enabled:
            barrier()  # rank 0's files are complete when any rank returns
    result.device, result.resumed_from = device, resumed_from
    return result


def _run_config(family, variant, cfg, seed, shapes, num_classes, streams, quality_key, dist) -> dict[str, Any]:
    """Everything that defines the run's maths: a checkpoint made with other values is refused."""
    schedule = getattr(type(cfg), "schedule_fields", SCHEDULE_FIELDS)
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
    return run_config


def _resume(state: RunState, path: Path, device: str, seed: int, dist: DistInfo, variant: str) -> int | None:
    """Load `path` into `state` when it exists; returns the step resumed from (None: a fresh run)."""
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    differing = run_config_mismatch(ckpt, state.config)
    if differing:
        raise ValueError(
            f"{path}: checkpoint was made with different settings ({', '.join(differing)}); delete it to start afresh"
        )
    state.load_state_dict(ckpt, device)
    if dist.enabled:  # the checkpoint holds rank 0's RNG state: give each rank its own again
        seed_everything(seed + dist.rank + dist.world_size * state.step)
    if dist.is_main:
        print(f"resuming {variant} from step {state.step}")
    return state.step


@dataclass
class _Session:
    """The training phase of `train`: steps, logging, checkpoints, probes and the final export."""

    family: Family
    cfg: Any
    state: RunState
    data: dict[str, dict[str, torch.Tensor]]
    out_dir: Path
    checkpoint_path: Path
    seed: int
    meta: dict[str, Any]
    variant: str
    dist: DistInfo
    log: Callable[[int, dict[str, float]], None] | None
    quality: Callable[[nn.Module, dict[str, Any]], dict[str, float]] | None
    quality_key: str | None
    quality_seconds: float = 0.0

    @property
    def parts(self) -> Any:
        return self.state.parts

    def export(self, model: nn.Module) -> None:
        if self.dist.is_main:
            self.family.export(self.parts, model, self.out_dir)

    def next_batch(self, stream: str) -> dict[str, torch.Tensor]:
        idx = self.state.orders[stream].next_indices()  # already on the device
        return {k: v[idx] for k, v in self.data[stream].items()}

    def checkpoint(self) -> None:
        if self.dist.is_main:
            self.state.save(self.checkpoint_path)
            self.family.save_samples(self.parts, self.out_dir, self.state.step, self.seed)

    def probe_quality(self) -> None:
        """Score the model we export; keep (and export) it when `quality_key` improves."""
        started = time.perf_counter()
        metrics = {str(k): float(v) for k, v in self.quality(self.family.sampler(self.parts), self.meta).items()}
        self.quality_seconds += time.perf_counter() - started
        self.state.record_quality(metrics, self.quality_key, self.checkpoint_path)
        write_csv(self.out_dir / QUALITY_CSV, self.state.quality_history, self.state.quality_columns)
        if self.log is not None:
            self.log(self.state.step, metrics)
        key = self.quality_key
        if key is not None and _improves(metrics[key], self.state.best, lower_is_better(key)):
            sampler = self.family.sampler(self.parts)
            weights = {k: v.detach().cpu().clone() for k, v in sampler.state_dict().items()}
            self.state.best = {"step": self.state.step, "value": metrics[key], "G": weights}
            self.export(sampler)  # the best so far is on disk even if the run dies later

    def log_values(self, values: dict[str, torch.Tensor], rate: float) -> dict[str, float]:
        """Average over ranks; on rank 0 append to losses.csv, the bar and `log`.

        A step may return only some of the family's log keys (a phase that does not compute the
        others, e.g. the video family's frame-only content steps): those are NaN in losses.csv and
        not passed to `log`."""
        log_keys = self.family.log_keys
        nan = torch.full((), float("nan"), device=next(iter(values.values())).device)
        logged = torch.stack([values[k].float() if k in values else nan for k in log_keys])
        if self.dist.enabled:
            logged = all_reduce_mean(logged)
        last = dict(zip(log_keys, logged.tolist(), strict=True))
        if self.dist.is_main:
            self.state.history.append([self.state.step, *(last[k] for k in log_keys)])
            append_row(self.out_dir / LOSSES_CSV, self.state.history[-1])
            if self.log is not None:
                self.log(self.state.step, {k: v for k, v in last.items() if k in values})
        return last

    def run(self, stop_after: int | None) -> TrainResult:
        from tqdm import tqdm

        state, cfg, dist, log_keys = self.state, self.cfg, self.dist, self.family.log_keys
        if dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_csv(self.out_dir / LOSSES_CSV, state.history, log_keys)
            if self.quality is not None:
                write_csv(self.out_dir / QUALITY_CSV, state.quality_history, state.quality_columns)
        device = next(iter(state.orders.values())).device
        guard_every = 1 if device == "cpu" else cfg.log_every  # a device sync per check on CUDA
        guard = NonFiniteGuard(device, log_keys)
        images_per_step = cfg.batch_size * getattr(cfg, "n_critic", 1)
        last: dict[str, float] = {}
        bar = tqdm(total=cfg.num_steps, initial=state.step, desc=self.variant, unit="step", file=sys.stderr,
                   leave=False, disable=not dist.is_main)  # fmt: skip
        start_step, started = state.step, time.perf_counter()
        with bar:
            while state.step < cfg.num_steps:
                values = self.family.train_step(self.parts, self.next_batch, state.step)
                state.step += 1
                step = state.step
                guard.update(values, step)
                bar.update(1)
                due_log = step % cfg.log_every == 0 or step == cfg.num_steps
                due_checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.num_steps
                # every rank checks at the same steps, so all stop together, naming the first bad one
                if step % guard_every == 0 or due_log or due_checkpoint:
                    self.stop_if_diverged(guard)
                if due_log:
                    rate = (step - start_step) * images_per_step / (time.perf_counter() - started)
                    last = self.log_values(values, rate)
                    shown = {k.split("_")[-1][:6]: f"{last[k]:.3f}" for k in log_keys[:2]}
                    bar.set_postfix(img_s=f"{rate:.0f}", **shown)
                if due_checkpoint:
                    if self.quality is not None and dist.is_main:
                        self.probe_quality()
                    self.checkpoint()
                if stop_after is not None and step >= stop_after:
                    raise TrainingInterrupted(f"stopped after step {step} (test hook)")
        seconds = time.perf_counter() - started
        if state.step == start_step:  # resumed a finished run: nothing to train, re-export
            self.checkpoint()
        self.export_final()
        if not last and state.history:
            last = dict(zip(log_keys, state.history[-1][1:], strict=True))
        best, steps_run = state.best, state.step - start_step
        return TrainResult(
            steps=state.step,
            seconds=seconds,
            images_per_second=steps_run * images_per_step / seconds if seconds > 0 else 0.0,
            losses=last,
            device="",
            resumed_from=None,
            best_step=int(best["step"]) if best else None,
            best_quality=float(best["value"]) if best else None,
            quality_seconds=self.quality_seconds,
        )

    def stop_if_diverged(self, guard: NonFiniteGuard) -> None:
        bad = guard.first_bad()
        if bad is not None:
            raise DivergenceError(
                f"{self.variant}: loss became NaN/inf at step {bad}; last good checkpoint kept in "
                f"{self.checkpoint_path} (try a lower lr, another loss, or gp/r1 regularisation)"
            )

    def export_final(self) -> None:
        """The best checkpoint's model from the checkpointed weights (exact after a resume), else the last."""
        if self.state.best:
            best_model = copy.deepcopy(self.family.sampler(self.parts))
            best_model.load_state_dict(self.state.best["G"])
            self.export(best_model)
            return
        if self.quality_key is not None and self.dist.is_main:
            print(
                f"{self.variant}: {self.quality_key} was never finite; exporting the last model",
                file=sys.stderr,
            )
        self.export(self.family.sampler(self.parts))
