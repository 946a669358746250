"""Checks of params.yaml that span sections or need the registries; they run right after parsing.

A stage must not spend a minute loading data before finding out that an architecture does not exist,
that it cannot produce the configured image size, or that a batch is larger than the whole training
split. Everything here is knowable from params alone (names from the ARCHITECTURES, LOSSES and
DETECTORS registries, the built-in sources' sizes, `data.max_images`), so every `ganops` command calls it
(cli.common.load_stage_params) and a bad value exits 2 within seconds, before a single image is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganops.config.params import Params

# Built-in sources: (number of images, number of classes); tests/data checks these against the loaders.
BUILTIN_SOURCE_SIZES = {"mnist": (5000, 10), "digits": (1797, 10), "faces": (200, 0)}


def gan_train_bound(params: Params) -> tuple[int, str] | None:
    """The most gan_train images the data can hold, and why; None when unknowable before loading."""
    data = params.data
    known = BUILTIN_SOURCE_SIZES.get(data.source, (None, None))[0]
    counts = [(n, why) for n, why in ((known, data.source), (data.max_images, "data.max_images")) if n]
    if not counts:
        return None
    total, why = min(counts)
    return round(total * data.split.gan_train), f"{total} images ({why}) x data.split.gan_train"


def _check_variants(params: Params) -> None:
    from ganops.image.architectures import validate_arch
    from ganops.training.losses import validate_loss

    data = params.data
    image_shape = (data.num_channels, data.image_size, data.image_size)
    classes = BUILTIN_SOURCE_SIZES.get(data.source, (None, 2))[1]  # folders: labels unknown yet
    bound = gan_train_bound(params)
    for name, variant in params.gan.variants.items():
        validate_arch(variant, image_shape, classes, name)
        validate_loss(variant, name)
        if bound is not None and variant.batch_size > bound[0]:
            raise ValueError(
                f"gan.variants.{name}.batch_size: {variant.batch_size} is larger than the at most "
                f"{bound[0]} gan_train images ({bound[1]}); lower batch_size or add images"
            )


def _check_detectors(params: Params) -> None:
    from ganops.detection.detectors import DETECTORS

    unknown = [name for name in params.detector.detectors if name not in DETECTORS]
    if unknown:
        known = ", ".join(sorted(DETECTORS))
        raise ValueError(f"detector.detectors: unknown detector {unknown[0]!r} (registered: {known})")


def check_params(params: Params) -> None:
    """Raise ValueError (one line, naming the key) for values the stages would reject after loading."""
    _check_variants(params)
    _check_detectors(params)
