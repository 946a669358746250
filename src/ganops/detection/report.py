"""`metrics/detector_report.md`: the evaluate_detector stage's numbers as tables a reviewer can read.

Targets from the abuse-detection issue beside the measured values (met or not), detector × metric
with bootstrap 95% intervals, per-generator results, the leave-one-generator-out matrix, the
robustness table (rows: perturbation, cells: AUC / TPR at 1% FPR / share of reals flagged) and the
leakage check, shouted at the top when it fires. Pure formatting: no I/O, no mlflow.
"""

from __future__ import annotations

import math

from ganops.detection.metrics import (
    AUC,
    AVERAGE_PRECISION,
    BALANCED_ACCURACY,
    BRIER,
    ECE,
    FPR_AT_THRESHOLD,
    NUM_FAKE,
    NUM_REAL,
    THRESHOLD,
    TPR_AT_FPR_0P1PCT,
    TPR_AT_FPR_1PCT,
    TPR_AT_THRESHOLD,
    ci_keys,
)

LOO_MEAN_AUC = "leave_one_out_mean_auc"
AT_LEAST, AT_MOST = ">=", "<="
# (what, path into one detector's results, direction, target): the targets, default mnist run.
TARGETS = (
    ("Same generators: AUC", ("test", AUC), AT_LEAST, 0.999),
    ("Same generators: TPR at 1% FPR", ("test", TPR_AT_FPR_1PCT), AT_LEAST, 0.99),
    ("Left-out generator: mean AUC", (LOO_MEAN_AUC,), AT_LEAST, 0.95),
    ("JPEG q75: AUC", ("robustness", "jpeg_q75", AUC), AT_LEAST, 0.95),
    ("Real test images flagged at the threshold", ("test", FPR_AT_THRESHOLD), AT_MOST, 0.01),
)
ROBUST_WARN_AUC = 0.95  # robustness cells below this AUC are bold


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def _with_ci(metrics: dict, key: str) -> str:
    low, high = ci_keys(key)
    if low in metrics:
        return f"{_fmt(metrics[key])} [{_fmt(metrics[low])}, {_fmt(metrics[high])}]"
    return _fmt(metrics[key])


def _lookup(entry: dict, path: tuple[str, ...]) -> float | None:
    value = entry
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def target_rows(details: dict) -> list[dict]:
    """One row per (target, detector): measured value and whether it meets the target (None: not run)."""
    rows = []
    for what, path, direction, target in TARGETS:
        for name in details["detectors"]:
            value = _lookup(details[name], path)
            met = None if value is None else (value >= target if direction == AT_LEAST else value <= target)
            rows.append(
                {
                    "target": what,
                    "detector": name,
                    "goal": f"{direction} {target:g}",
                    "value": value,
                    "met": met,
                }
            )
    return rows


def _leakage_section(details: dict, warn_auc: float) -> list[str]:
    leakage = details["leakage"]
    rows = [
        [split, _fmt(leakage[split]["leak_auc"]), "**YES**" if leakage[split]["leak_warning"] else "no"]
        for split in ("train", "test")
    ]
    for variant, result in leakage.get("per_generator", {}).items():
        rows.append([f"test, {variant} only", _fmt(result["leak_auc"]), "**YES**" if result["leak_warning"] else "no"])
    return [
        "## Leakage check",
        "",
        "Cross-validated AUC of a logistic regression on per-channel pixel mean and std only; "
        f"it warns above {warn_auc:g}.",
        "",
        *_table(["real vs fake", "leak AUC", "fires"], rows),
        "",
    ]


def leak_fired(leakage: dict) -> list[str]:
    """Where the leakage check fired, e.g. ['train', 'test', 'generator dcgan']."""
    fired = [split for split in ("train", "test") if leakage[split]["leak_warning"]]
    return fired + [f"generator {v}" for v, r in leakage.get("per_generator", {}).items() if r["leak_warning"]]


def report_markdown(details: dict, warn_auc: float) -> str:
    """The whole report for `details` as returned by detector_stages.evaluate_detectors."""
    lines = ["# Detector report", ""]
    for section in (_header_section, _targets_section, _metrics_section, _per_generator_section, _loo_section):
        lines += section(details)
    lines += _robustness_section(details)
    lines += _leakage_section(details, warn_auc)
    return "\n".join(lines)


def _header_section(details: dict) -> list[str]:
    names, variants = details["detectors"], details["generators"]
    lines = []
    fired = leak_fired(details["leakage"])
    if fired:
        lines += [
            f"> **WARNING: the leakage check fired ({', '.join(fired)}).** Pixel mean and standard "
            "deviation alone separate real from fake images. Either the two classes were stored or scaled "
            "differently (a bug: fix it before trusting any number below), or the generator's images are "
            "visibly dimmer, brighter or flatter than the real ones (then the detectors catch an easy tell, "
            "and the numbers are optimistic for better generators).",
            "",
        ]
    num_real = details[names[0]]["test"][NUM_REAL] if names else 0
    num_fake = details[names[0]]["test"][NUM_FAKE] if names else 0
    lines += [
        f"Test split: {num_real:.0f} real images vs {num_fake:.0f} fakes from "
        f"{', '.join(variants)} (never used in training). Thresholds were fixed on validation data. "
        "Bracketed: bootstrap 95% intervals.",
        "",
    ]
    if num_real and num_real < 1000:
        lines += [f"With {num_real:.0f} reals, TPR at 0.1% FPR is the TPR with no false positive at all.", ""]
    return lines


def _targets_section(details: dict) -> list[str]:
    met = {True: "yes", False: "**NO**", None: "not run"}
    rows = [[r["target"], r["detector"], r["goal"], _fmt(r["value"]), met[r["met"]]] for r in target_rows(details)]
    return [
        "## Targets (from the issue) vs measured",
        "",
        *_table(["target", "detector", "goal", "measured", "met"], rows),
        "",
    ]


_METRIC_COLUMNS = (
    ("AUC", AUC, True),
    ("average precision", AVERAGE_PRECISION, True),
    ("TPR@1%FPR", TPR_AT_FPR_1PCT, True),
    ("TPR@0.1%FPR", TPR_AT_FPR_0P1PCT, False),
    ("balanced acc.", BALANCED_ACCURACY, True),
    ("reals flagged", FPR_AT_THRESHOLD, False),
    ("fakes caught", TPR_AT_THRESHOLD, False),
    ("Brier", BRIER, False),
    ("ECE (15 bins)", ECE, False),
    ("threshold", THRESHOLD, False),
)


def _metrics_section(details: dict) -> list[str]:
    header = ["detector", *(title for title, _, _ in _METRIC_COLUMNS)]
    rows = []
    for name in details["detectors"]:
        m = details[name]["test"]
        rows.append([name, *(_with_ci(m, key) if ci else _fmt(m[key]) for _, key, ci in _METRIC_COLUMNS)])
    return ["## Detector × metric (test split)", "", *_table(header, rows), ""]


_PER_GENERATOR_KEYS = ((AUC, "AUC"), (TPR_AT_FPR_1PCT, "TPR@1%FPR"), (TPR_AT_THRESHOLD, "fakes caught"))


def _generator_table(details: dict, part: str, first_column: str) -> tuple[list[str], list[list[str]]]:
    names = details["detectors"]
    header = [first_column, *(f"{n} {col}" for n in names for _, col in _PER_GENERATOR_KEYS)]
    rows = [
        [v, *(_fmt(details[n][part][v][k]) for n in names for k, _ in _PER_GENERATOR_KEYS)]
        for v in details["generators"]
    ]
    return header, rows


def _per_generator_section(details: dict) -> list[str]:
    header, rows = _generator_table(details, "per_generator", "generator")
    return ["## Per generator (test reals vs one generator's fakes)", "", *_table(header, rows), ""]


def _loo_section(details: dict) -> list[str]:
    names = details["detectors"]
    lines = ["## Leave one generator out (trained without it, tested on it)", ""]
    if not all("leave_one_out" in details[n] for n in names):
        return [*lines, "Not run (detector.leave_one_out is false, or fewer than two generators).", ""]
    header, rows = _generator_table(details, "leave_one_out", "held-out generator")
    rows.append(["**mean AUC**", *(x for n in names for x in (_fmt(details[n][LOO_MEAN_AUC]), "", ""))])
    return [*lines, *_table(header, rows), ""]


def _robustness_section(details: dict) -> list[str]:
    names = details["detectors"]
    lines = [
        "## Robustness (both classes perturbed alike, threshold unchanged)",
        "",
        f"Cells: AUC / TPR at 1% FPR / share of reals flagged. Bold: AUC below {ROBUST_WARN_AUC:g}.",
        "",
    ]
    perturbations = list(details[names[0]]["robustness"]) if names else []
    rows = []
    for p in perturbations:
        cells = []
        for n in names:
            m = details[n]["robustness"][p]
            auc = _fmt(m[AUC])
            auc = f"**{auc}**" if m[AUC] < ROBUST_WARN_AUC else auc
            cells.append(f"{auc} / {_fmt(m[TPR_AT_FPR_1PCT])} / {_fmt(m[FPR_AT_THRESHOLD])}")
        rows.append([p, *cells])
    return [*lines, *_table(["perturbation", *names], rows), ""]
