"""Detectors of style-transferred fakes: translated A images against real B images of the same domain.

A translator's output is a fake of domain B, so it is judged against real domain-B images only (never
colour fakes against gray reals: a detector would learn the colour). Fakes for training are the
translations of detector_train A images (reals: detector_train B), fakes for testing those of test A
(reals: test B); both are put on the 8-bit grid when the reals lie on it, as the image family's
fakes are. Everything else is the detection library's own (ganops.detection.training): training with
calibration and threshold, the same-source test, leave-one-translator-out, the leakage check.
"""

from __future__ import annotations

import numpy as np

from ganops.detection.metrics import AUC, FPR_AT_THRESHOLD, TPR_AT_FPR_1PCT, ci_keys
from ganops.detection.training import evaluate_detector, leakage_check, leave_one_out, train_detector

POOLED = "all_translators"
KEPT = (
    AUC,
    *ci_keys(AUC),
    TPR_AT_FPR_1PCT,
    *ci_keys(TPR_AT_FPR_1PCT),
    FPR_AT_THRESHOLD,
    "num_real",
    "num_fake",
)


def on_8bit_grid(images: np.ndarray) -> bool:
    scaled = images.astype(np.float64) * 255.0
    return bool(np.abs(scaled - np.round(scaled)).max() < 1e-3) if images.size else False


def like_reals(fakes: np.ndarray, reals: np.ndarray) -> np.ndarray:
    """Fakes stored like the reals: on the 8-bit grid when the reals are."""
    return (np.round(fakes * 255.0) / 255.0).astype(np.float32) if on_8bit_grid(reals) else fakes


def _kept(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(metrics[k]) for k in KEPT if k in metrics}


def detect_translated(
    name: str, real_train: np.ndarray, fakes_train: dict[str, np.ndarray], real_test: np.ndarray,
    fakes_test: dict[str, np.ndarray], cfg, seed: int, device: str = "cpu",
) -> dict:  # fmt: skip
    """One detector on every translator's fakes: pooled and per-translator test rows, leave-one-out rows."""
    translators = sorted(fakes_train)
    pooled = np.concatenate([fakes_train[t] for t in translators])
    trained = train_detector(name, real_train, pooled, cfg, seed, generators=translators, device=device)
    result = {
        POOLED: _kept(
            evaluate_detector(
                trained,
                real_test,
                np.concatenate([fakes_test[t] for t in translators]),
                cfg.bootstrap_resamples,
                seed,
            )
        ),  # fmt: skip
        "same_source": {
            t: _kept(evaluate_detector(trained, real_test, fakes_test[t], cfg.bootstrap_resamples, seed))
            for t in translators
        },
        "threshold": float(trained.threshold),
    }
    if cfg.leave_one_out and len(translators) >= 2:
        loo = leave_one_out(name, real_train, fakes_train, real_test, fakes_test, cfg, seed, device)
        result["left_out"] = {t: _kept(m) for t, m in loo.items()}
    return result


def leakage(real_test: np.ndarray, fakes_test: dict[str, np.ndarray], seed: int, warn_auc: float) -> dict:
    return {t: leakage_check(real_test, fakes, seed, warn_auc) for t, fakes in sorted(fakes_test.items())}


def _cell(metrics: dict | None, key: str) -> str:
    if not metrics or key not in metrics:
        return ""
    low, high = ci_keys(key)
    text = f"{metrics[key]:.3f}"
    return text + (f" ({metrics[low]:.3f}–{metrics[high]:.3f})" if low in metrics and high in metrics else "")


def report_markdown(results: dict[str, dict], leak: dict[str, dict]) -> str:
    """Markdown section: per detector and translator, same-source and left-out rows."""
    lines = [
        "# Detectors of style-transferred fakes",
        "",
        "Translated test A images (fakes) against real test B images (same domain), 95 % bootstrap intervals. "
        "`left out`: a detector trained without that translator's fakes.",
        "",
        "| detector | translator | AUC | TPR @ 1 % FPR | reals flagged | left out: AUC | left out: TPR @ 1 % FPR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        rows = [(POOLED, result[POOLED], None), *((t, m, result.get("left_out", {}).get(t))
                                                   for t, m in result["same_source"].items())]  # fmt: skip
        for translator, same, out in rows:
            flagged = f"{100 * same[FPR_AT_THRESHOLD]:.1f} %" if FPR_AT_THRESHOLD in same else ""
            lines.append(
                f"| {name} | {translator} | {_cell(same, AUC)} | {_cell(same, TPR_AT_FPR_1PCT)} | {flagged} | "
                f"{_cell(out, AUC)} | {_cell(out, TPR_AT_FPR_1PCT)} |"
            )
    fired = [t for t, check in leak.items() if check["leak_warning"]]
    lines += ["", "Leakage check (pixel mean/std alone, AUC): "
              + ", ".join(f"{t} {check['leak_auc']:.3f}" for t, check in leak.items())
              + (f" — **fires for {', '.join(fired)}**: their colour statistics alone give them away." if fired else "."),  # noqa: E501
              ""]  # fmt: skip
    return "\n".join(lines)
