"""Detector bootstrap intervals: the old per-resample scikit-learn loop vs the batched `bootstrap_ci`, side by side.

Same inputs, same seed, one process: calibrated-looking scores for `--reals` reals and `--fakes` fakes (all
distinct, the batched path's worst case, as Platt-scaled p_fake is; `--decimals 2` rounds them to make ties),
`--resamples` stratified resamples, the four BOOTSTRAPPED metrics at a 0.5 threshold. The two run alternately,
best of `--repeats` kept. Reports seconds, the speed-up and the largest difference between the two sets of
intervals (goal: ≤ 1e-12).

    PYTHONPATH=src python benchmarks/bootstrap_speed.py [--reals 1000] [--fakes 3000] [--resamples 200] [--decimals 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ganops.detection import metrics as dm


def loop_bootstrap_ci(labels, scores, metric, num_resamples: int = 200, seed: int = 0, confidence: float = 0.95):
    """bootstrap_ci as it was before the batched path: one `metric` call (four scikit-learn scores) per resample."""
    rng = np.random.default_rng(seed)
    real_idx, fake_idx = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    samples: dict[str, list[float]] = {}
    for _ in range(num_resamples):
        idx = np.concatenate([rng.choice(real_idx, len(real_idx)), rng.choice(fake_idx, len(fake_idx))])
        for key, value in metric(labels[idx], scores[idx]).items():
            samples.setdefault(key, []).append(value)
    tail = (1.0 - confidence) / 2.0 * 100.0
    return {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
        for key, values in samples.items()
    }


def detector_scores(num_real: int, num_fake: int, seed: int, decimals: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.zeros(num_real, np.int64), np.ones(num_fake, np.int64)])
    scores = 1 / (1 + np.exp(-(rng.normal(size=len(labels)) + 2.0 * labels)))
    return labels, scores if decimals is None else np.round(scores, decimals)


def timed(fn, *args) -> tuple[float, dict[str, tuple[float, float]]]:
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reals", type=int, default=1000)
    parser.add_argument("--fakes", type=int, default=3000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decimals", type=int, default=None, help="round the scores (ties); default: all distinct")
    args = parser.parse_args()
    labels, scores = detector_scores(args.reals, args.fakes, args.seed, args.decimals)
    metric = dm.PointMetrics(0.5)
    dm.bootstrap_ci(labels, scores, metric, 2, args.seed)  # imports scikit-learn: keep it out of the timings
    loop_times, batched_times = [], []
    for _ in range(args.repeats):  # alternate so machine load hits both alike
        t, slow = timed(loop_bootstrap_ci, labels, scores, metric, args.resamples, args.seed)
        loop_times.append(t)
        t, fast = timed(dm.bootstrap_ci, labels, scores, metric, args.resamples, args.seed)
        batched_times.append(t)
    diff = max(abs(a - b) for key in dm.BOOTSTRAPPED for a, b in zip(fast[key], slow[key], strict=True))
    loop_s, batched_s = min(loop_times), min(batched_times)
    distinct = len(np.unique(scores))
    print(f"{args.reals} reals + {args.fakes} fakes ({distinct} distinct scores), {args.resamples} resamples, ", end="")
    print(f"best of {args.repeats}")
    print(f"{'loop s':>9} {'batched s':>10} {'speed-up':>9} {'max |diff|':>11}")
    print(f"{loop_s:>9.3f} {batched_s:>10.4f} {loop_s / batched_s:>8.1f}x {diff:>11.1e}")
    for key in dm.BOOTSTRAPPED:
        (fast_low, fast_high), (loop_low, loop_high) = fast[key], slow[key]
        print(f"  {key:<20} batched [{fast_low:.6f}, {fast_high:.6f}]  loop [{loop_low:.6f}, {loop_high:.6f}]")


if __name__ == "__main__":
    main()
