"""The side-by-side table of the translators (metrics/translation_report.md) with its reference rows."""

from __future__ import annotations

import math

from ganops.translation import evaluation as E
from ganops.translation import metrics as M

# (column header, key in a variant's metrics)
COLUMNS = (
    ("label preservation ↑", E.LABEL_PRESERVATION),
    ("FID to real B ↓", E.FID),
    ("KID", E.KID),
    ("L1 to target ↓", M.L1_TO_TARGET),
    ("PSNR dB ↑", M.PSNR_TO_TARGET),
    ("SSIM ↑", M.SSIM_TO_TARGET),
    ("cycle L1 (A→B→A)", M.CYCLE_L1),
    ("distinct outputs", M.DISTINCT_OUTPUT_SHARE),
)
# reference rows: (label, {column key: key of the reference value})
REFERENCE_ROWS = (
    ("_real B (ceiling / floor)_", {E.LABEL_PRESERVATION: E.LABEL_CEILING, E.FID: E.FID_FLOOR, E.KID: E.KID_FLOOR}),
    ("_untranslated A (did nothing)_", {
        E.LABEL_PRESERVATION: E.LABEL_FLOOR, E.FID: E.FID_UNTRANSLATED, E.KID: E.KID_UNTRANSLATED,
        **{k: k + E.UNTRANSLATED_SUFFIX for k in (M.L1_TO_TARGET, M.PSNR_TO_TARGET, M.SSIM_TO_TARGET)},
    }),
    ("_best possible: average B given the digit_",
     {k: k + E.BEST_POSSIBLE_SUFFIX for k in (M.L1_TO_TARGET, M.PSNR_TO_TARGET, M.SSIM_TO_TARGET)}),
)  # fmt: skip


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"


def report_markdown(all_metrics: dict[str, dict[str, float]], chosen: str, primary: str) -> str:
    """Markdown: one row per variant (the chosen one bold), then the reference rows present in the metrics."""
    header = ["translator", *(name for name, _ in COLUMNS)]
    lines = [
        "# Translators on the test split",
        "",
        f"Chosen for registration by `{primary}` (ties broken by `{E.FID}`): **{chosen}**. Every score is "
        "measured by one classifier trained on real domain-B images (FID/KID in its features).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for variant, metrics in all_metrics.items():
        name = f"**{variant}** (registered)" if variant == chosen else variant
        lines.append("| " + " | ".join([name, *(_fmt(metrics.get(key)) for _, key in COLUMNS)]) + " |")
    reference = next(iter(all_metrics.values()), {})
    for label, keys in REFERENCE_ROWS:
        cells = [_fmt(reference.get(keys[key])) if key in keys else "" for _, key in COLUMNS]
        if any(cells):
            lines.append("| " + " | ".join([label, *cells]) + " |")
    lines.append("")
    return "\n".join(lines)
