"""The translation families by name: importing pix2pix and cyclegan registers them in training.FAMILIES."""

from __future__ import annotations

from ganops.training.family import FAMILIES, Family

FAMILY_NAMES = ("pix2pix", "cyclegan")


def translation_family(name: str) -> Family:
    """FAMILIES[name] for a translation family (`pix2pix` | `cyclegan`), registering both on first use."""
    from ganops.translation import cyclegan, pix2pix  # noqa: F401 (registers both families)

    if name not in FAMILY_NAMES:
        raise ValueError(f"unknown translation family {name!r} (known: {', '.join(FAMILY_NAMES)})")
    return FAMILIES[name]
