"""`metrics/report.md`: every variant side by side, between the real-data floor and the noise generator."""

from __future__ import annotations

from ganops.evaluation import metric_keys as mk

COLUMNS = (mk.FID, mk.KID, mk.IS, mk.PRECISION, mk.RECALL, mk.CLASSES_COVERED, mk.CLASS_KL)
REFERENCE_ROWS = {
    # row label -> {column: reference key}
    "real floor / ceiling": {mk.FID: mk.FID_FLOOR_REAL, mk.KID: mk.KID_FLOOR_REAL, mk.IS: mk.IS_CEILING_REAL},
    "noise generator": {mk.FID: mk.FID_NOISE, mk.KID: mk.KID_NOISE, mk.IS: mk.IS_NOISE},
}


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def gan_report_markdown(
    variant_metrics: dict[str, dict[str, float]],
    reference: dict[str, float],
    num_images: int,
    chosen: str,
    network: str = mk.DOMAIN,
) -> str:
    """A variant × metric table with reference rows; `chosen` is the variant sent to the registry."""
    header = [f"{name} ({'↓' if name in mk.LOWER_IS_BETTER else '↑'})" for name in COLUMNS]
    lines = [
        f"# GAN variants — {num_images} generated images, `{network}` features",
        "",
        "| variant | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for variant, metrics in sorted(variant_metrics.items()):
        cells = []
        for name in COLUMNS:
            value = metrics.get(mk.metric_key(name, num_images, network))
            std = metrics.get(mk.metric_key(f"{name}_std", num_images, network))
            cells.append(_cell(value) + (f" ± {std:.2g}" if std is not None and value is not None else ""))
        label = f"**{variant}** (registered)" if variant == chosen else variant
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, keys in REFERENCE_ROWS.items():
        cells = [
            _cell(reference.get(mk.reference_key(keys[name], network))) if name in keys else "" for name in COLUMNS
        ]
        lines.append(f"| _{label}_ | " + " | ".join(cells) + " |")
    lines += [
        "",
        "FID/KID floors compare two disjoint real splits (the best a generator can hope for at these",
        "sample sizes); the IS ceiling is the IS of real test images; the noise row is uniform noise.",
    ]
    return "\n".join(lines) + "\n"
