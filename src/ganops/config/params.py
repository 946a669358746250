"""Typed configuration: `params.yaml` is loaded once, validated, and passed down as these objects.

Every stage entry point calls `load_params()`; library code receives the typed sections it needs
and never reads YAML or globals. Unknown keys, wrong types and out-of-range values raise
`ConfigError` with one line naming the key and what is allowed; the CLI turns it into exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ganops.config.base import (  # noqa: F401
    Fraction,
    LearningRate,
    PositiveFloat,
    SplitConfig,
    _Strict,
    distinct,
    expand_lr,
)
from ganops.config.video import VideoConfig
from ganops.core.yaml_io import read_yaml


class ConfigError(ValueError):
    """A bad value in params.yaml; the message is one line naming the key and the fix."""


class DataConfig(_Strict):
    # `mnist` | `digits` | `faces` | `folder:<path>` (path relative to the repo root or absolute)
    source: str = "mnist"
    # Side of the square images after preparation; built-in sets are resized with skimage when needed.
    image_size: Annotated[int, Field(ge=8, le=256)] = 28
    # `gray` (1 channel) or `rgb` (3 channels); folder images are converted to this mode.
    channels: Literal["gray", "rgb"] = "gray"
    on_bad_image: Literal["skip", "fail"] = "skip"
    # Cap on the number of images taken from the source (None = all); used by tiny test configs.
    max_images: Annotated[int, Field(ge=30)] | None = None
    # Largest image (width x height, read from the file header before decoding) that prepare, ingest
    # and scan decode; bigger files are refused with a reason (JPEGs are decoded scaled down first).
    max_pixels: Annotated[int, Field(ge=64, le=200_000_000)] = 4_194_304
    split: SplitConfig = SplitConfig()

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value in ("mnist", "digits", "faces") or (value.startswith("folder:") and len(value) > 7):
            return value
        raise ValueError(f"must be mnist, digits, faces or folder:<path> (got {value!r})")

    @property
    def num_channels(self) -> int:
        return 1 if self.channels == "gray" else 3


class EvaluatorConfig(_Strict):
    """The domain feature network (a small CNN classifier) used for FID/IS/KID."""

    epochs: Annotated[int, Field(ge=1, le=200)] = 8
    batch_size: Annotated[int, Field(ge=8, le=4096)] = 64
    lr: LearningRate = 1e-3
    feature_dim: Annotated[int, Field(ge=8, le=2048)] = 128


class VariantConfig(_Strict):
    """One GAN recipe trained by the `train_gan` stage (a DVC foreach item)."""

    arch: str = "dcgan"
    loss: str = "non_saturating"
    conditional: Literal["auto"] | bool = False  # auto: conditional when the data has two or more classes
    # how a conditional G takes the label (image.architectures): per-class gain/bias on its hidden
    # layers (conditional batch norm) or an embedding concatenated to z (collapsed to one digit per class)
    g_label: Literal["modulation", "input"] = "modulation"
    z_dim: Annotated[int, Field(ge=2, le=1024)] = 64
    width: Annotated[int, Field(ge=8, le=1024)] = 32  # base channel count / hidden units
    batch_size: Annotated[int, Field(ge=2, le=4096)] = 64
    num_steps: Annotated[int, Field(ge=1)] = 1500  # generator updates
    n_critic: Annotated[int, Field(ge=1, le=20)] = 1  # D updates per G update
    lr_g: LearningRate = 2e-4
    lr_d: LearningRate = 2e-4
    beta1: Annotated[float, Field(ge=0, lt=1)] = 0.5
    beta2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    gp_weight: Annotated[float, Field(ge=0)] = 10.0  # WGAN-GP lambda
    r1_weight: Annotated[float, Field(ge=0)] = 0.0
    label_smoothing: Annotated[float, Field(ge=0, lt=0.5)] = 0.0  # one-sided: real target 1 - s
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.999  # 0 disables EMA
    diffaugment: bool = False
    checkpoint_every: Annotated[int, Field(ge=1)] = 250  # steps between checkpoints + sample grids
    log_every: Annotated[int, Field(ge=1)] = 25

    @model_validator(mode="before")
    @classmethod
    def _lr_sets_both(cls, data: Any) -> Any:
        """`lr` is shorthand for lr_g and lr_d (`dvc exp run -S gan.variants.dcgan.lr=1e-4`)."""
        return expand_lr(data)


CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


class GanConfig(_Strict):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # torch intra-op threads on CPU (0 = torch's default). Small GANs are latency-bound: on 2 cores,
    # two threads fighting each other (or another process) ran 3-10x slower than one (README, Speed).
    cpu_threads: Annotated[int, Field(ge=0, le=256)] = 1
    deterministic: bool = False
    # CUDA speed options, measured on an H100 (README, Speed): bf16 autocast alone was slower than fp32
    # for these small models; bf16 + channels_last + compile (reduce-overhead) was 1.57x plain fp32.
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    # torch.compile's mode; reduce-overhead replays CUDA graphs (fewer launches, more memory). Plain
    # "default" compilation was slower than eager here (0.70x), so it is not the default.
    compile_mode: CompileMode = "reduce-overhead"
    variants: dict[str, VariantConfig] = Field(default_factory=lambda: {"dcgan": VariantConfig()})

    @field_validator("variants")
    @classmethod
    def _names(cls, value: dict[str, VariantConfig]) -> dict[str, VariantConfig]:
        if not value:
            raise ValueError("define at least one variant")
        for name in value:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"variant name {name!r} may hold only letters, digits, _ and -")
        return value


class EvaluateConfig(_Strict):
    num_images: Annotated[int, Field(ge=100)] = 5000  # generated images per variant
    probe_num_images: Annotated[int, Field(ge=100)] = 1000  # cheap FID/IS at each checkpoint (vs gan_train)
    batch_size: Annotated[int, Field(ge=8)] = 128  # images per evaluator pass (128: 1.4x faster than 500 on CPU)
    kid_subsets: Annotated[int, Field(ge=1)] = 100
    kid_subset_size: Annotated[int, Field(ge=10)] = 1000
    is_splits: Annotated[int, Field(ge=1)] = 10
    # Feature spaces the evaluate stages score in; each adds its own keys (`fid_5k_domain`,
    # `fid_5k_inception`). `inception` is the standard FID Inception-v3 (ganops.evaluation.inception).
    networks: list[Literal["domain", "inception"]] = Field(default_factory=lambda: ["domain"])
    # Local path to pt_inception-2015-12-05-6726825d.pth (or its folder); None = the torch hub cache
    # ($TORCH_HOME/hub/checkpoints/). Never downloaded.
    inception_weights: str | None = None

    @field_validator("networks")
    @classmethod
    def _distinct_networks(cls, value: list[str]) -> list[str]:
        return distinct(value, "feature networks from domain, inception")


class RegisterConfig(_Strict):
    model_name: str = "ganops-generator"
    experiment: str = "ganops"


Probability = Annotated[float, Field(ge=0, le=1)]


class CnnDetectorConfig(_Strict):
    """`detector.cnn`: small CNN on pixels, trained on degraded copies of both classes (augment.py)."""

    # Defaults chosen on a validation split of detector_train (params.yaml, detector.cnn, says how):
    # robust to blur, downscale, JPEG and noise at about half the old recipe's training compute.
    epochs: Annotated[int, Field(ge=1, le=200)] = 12
    batch_size: Annotated[int, Field(ge=8, le=4096)] = 128
    lr: PositiveFloat = 2e-3
    lr_schedule: Literal["constant", "cosine"] = "cosine"  # cosine: decays to 0 over all steps
    width: Annotated[int, Field(ge=4, le=256)] = 16  # channels of the first conv; later ones 2x, 4x
    blur_prob: Probability = 0.3  # per image and batch, both classes alike (detection/augment.py)
    blur_sigma_max: Annotated[float, Field(ge=0, le=10)] = 1.5  # sigma ~ U[0, max] pixels
    downscale_prob: Probability = 0.3
    downscale_min: Annotated[float, Field(gt=0, le=1)] = 0.5  # factor ~ U[min, 1], then back up
    noise_prob: Probability = 0.15
    noise_sigma_max: Annotated[float, Field(ge=0, le=1)] = 0.08  # sigma ~ U[0, max], pixels in [0, 1]
    jpeg_prob: Probability = 0.15
    jpeg_quality_min: Annotated[int, Field(ge=1, le=100)] = 30  # quality ~ U{min..100}
    leave_one_out_epochs: Annotated[int, Field(ge=1, le=200)] | None = 3  # None: same as epochs
    # Scores averaged over the image and its copies moved this many px up / down / left / right (border
    # repeated): 5 forward passes per image; 0 = the image alone (detectors.CnnDetector.raw_score).
    test_time_shift: Annotated[int, Field(ge=0, le=4)] = 1


class SpectrumDetectorConfig(_Strict):
    """`detector.spectrum`: radial log spectrum / log-DCT features into logistic regression."""

    features: Literal["radial", "dct", "both"] = "both"
    dct_grid: Annotated[int, Field(ge=4, le=256)] = 32  # log-DCT pooled to at most grid x grid
    logreg_c: PositiveFloat = 1.0


class DetectorConfig(_Strict):
    """Real-vs-fake detectors (label 1 = fake); each detector reads its own sub-section by name."""

    detectors: list[str] = Field(default_factory=lambda: ["spectrum", "cnn"])
    num_fakes: Annotated[int, Field(ge=20)] = 4000  # per variant, split train/test like the reals
    # The real images a detector learns from: never `test` (the split its report is judged on). Real
    # images are the scarce class (1,000 in detector_train vs 3 generators' fakes); gan_train's reals
    # are as real as any, and the GANs' memory of them only makes the detector's job harder.
    real_splits: list[Literal["detector_train", "gan_train"]] = Field(
        default_factory=lambda: ["detector_train", "gan_train"]
    )
    validation_fraction: Fraction = 0.25  # of the detector's training images, for Platt scaling + threshold
    threshold_rule: Literal["fpr", "balanced"] = "fpr"
    target_fpr: Fraction = 0.005  # the threshold rule's FPR on validation reals (half the 1 % goal: noisy)
    # ... and on the validation reals after each of these (detection/calibration.py, threshold_for_fpr)
    threshold_perturbations: list[str] = Field(
        default_factory=lambda: ["blur_sigma1", "downscale_0p5", "jpeg_q50", "noise_sigma0p05"]
    )
    bootstrap_resamples: Annotated[int, Field(ge=0, le=10000)] = 200
    leak_warn_auc: Annotated[float, Field(gt=0.5, le=1)] = 0.75
    leave_one_out: bool = True  # train extra detectors with one generator held out
    model_name: str = "ganops-detector"
    cnn: CnnDetectorConfig = CnnDetectorConfig()
    spectrum: SpectrumDetectorConfig = SpectrumDetectorConfig()

    @field_validator("real_splits")
    @classmethod
    def _distinct_splits(cls, value: list[str]) -> list[str]:
        return distinct(value, "splits, at least one of detector_train, gan_train")

    @field_validator("detectors")
    @classmethod
    def _distinct_detectors(cls, value: list[str]) -> list[str]:
        # names are checked against ganops.detection.detectors.DETECTORS in cli.checks
        return distinct(value, "detector names, at least one")


# --- translation (image-to-image GANs: pix2pix, CycleGAN; README "Style transfer") ---

TRANSLATION_PAIRS = ("mnist_to_mnistm", "edges_to_mnist")  # keep in step with translation.pairs.PAIR_SOURCES
TRANSLATION_FAMILIES = ("pix2pix", "cyclegan")  # keep in step with translation.families.FAMILY_NAMES
# Each family's own settings and the reference's defaults (junyanz/pytorch-CycleGAN-and-pix2pix); a family
# setting given to the other family is an error. Keep equal to pix2pix.DEFAULTS / cyclegan.DEFAULTS.
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "pix2pix": {"generator": "unet", "norm": "batch", "dropout": 0.5, "gan_loss": "non_saturating",
                "lambda_l1": 100.0},
    "cyclegan": {"generator": "resnet", "norm": "instance", "dropout": 0.0, "gan_loss": "least_squares",
                 "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50},
}  # fmt: skip
_FAMILY_ONLY = {"lambda_l1", "lambda_cycle", "lambda_identity", "pool_size"}


class TranslatorConfig(_Strict):
    """One translator recipe (`translation.variants.NAME`), trained by `train_translator@NAME`."""

    family: Literal["pix2pix", "cyclegan"]  # defaults to the variant's name when that is a family name
    generator: Literal["unet", "resnet"]  # U-Net (pix2pix) or ResNet (CycleGAN) generator
    discriminator: Literal["patchgan"] = "patchgan"
    ngf: Annotated[int, Field(ge=2, le=512)] = 64  # generator base width
    ndf: Annotated[int, Field(ge=2, le=512)] = 64  # discriminator base width
    norm: Literal["batch", "instance"]
    dropout: Annotated[float, Field(ge=0, lt=1)]
    padding: Literal["reflect", "zeros"] = "reflect"  # ResNet G; zeros is deterministic on CUDA
    resnet_blocks: Annotated[int, Field(ge=1, le=32)] = 6
    patchgan_layers: Annotated[int, Field(ge=0, le=6)] = 0  # 0 = the largest that fits the image size
    gan_loss: Literal["non_saturating", "minimax", "least_squares", "hinge"]
    lambda_l1: Annotated[float, Field(ge=0)] | None = None  # pix2pix: weight of L1 to the target
    lambda_cycle: Annotated[float, Field(ge=0)] | None = None  # CycleGAN: cycle-consistency weight
    lambda_identity: Annotated[float, Field(ge=0)] | None = None  # CycleGAN: identity, x lambda_cycle
    pool_size: Annotated[int, Field(ge=0, le=10_000)] | None = None  # CycleGAN: fake-image pool (0 = off)
    lr: PositiveFloat = 2e-4
    beta1: Annotated[float, Field(ge=0, lt=1)] = 0.5
    beta2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    lr_constant_steps: Annotated[int, Field(ge=0)] = 10_000  # constant LR for this many steps ...
    lr_decay_steps: Annotated[int, Field(ge=0)] = 10_000  # ... then linear decay to 0 over these
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 1
    num_steps: Annotated[int, Field(ge=1)] = 20_000
    checkpoint_every: Annotated[int, Field(ge=1)] = 1000  # steps between checkpoints, probes, sample grids
    log_every: Annotated[int, Field(ge=1)] = 25
    num_samples: Annotated[int, Field(ge=1, le=64)] = 8  # rows of the sample grid

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("family") not in _FAMILY_DEFAULTS:
            return data  # the field validator names the bad or missing family
        own = set(_FAMILY_DEFAULTS[data["family"]])
        foreign = sorted((set(data) & _FAMILY_ONLY) - own)
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not a setting of family {data['family']!r}")
        return {**_FAMILY_DEFAULTS[data["family"]], **data}


class TranslationConfig(_Strict):
    """`translation`: domain A and B images, the translator variants, their judge and detectors."""

    # mnist_to_mnistm | edges_to_mnist | folder:<A>,folder:<B> (paths relative to the repo root)
    source: str = "mnist_to_mnistm"
    image_size: Annotated[int, Field(ge=8, le=256)] = 28
    # Colour mode of each domain for folder sources (built-in pairs fix their own: gray A, rgb/gray B).
    channels_a: Literal["gray", "rgb"] = "rgb"
    channels_b: Literal["gray", "rgb"] = "rgb"
    on_bad_image: Literal["skip", "fail"] = "skip"
    max_images: Annotated[int, Field(ge=30)] | None = None  # per domain; None = all
    split: SplitConfig = SplitConfig()  # gan_train: translators; detector_train: probes, detectors; test
    probe_num_images: Annotated[int, Field(ge=10)] = 500  # detector_train A images scored per checkpoint
    kid_subsets: Annotated[int, Field(ge=1)] = 50
    kid_subset_size: Annotated[int, Field(ge=10)] = 500
    evaluator: EvaluatorConfig = EvaluatorConfig()  # the domain-B classifier (label preservation, FID)
    detector: DetectorConfig = DetectorConfig()  # detectors of translated fakes vs real B images
    model_name: str = "ganops-translator"
    variants: dict[str, TranslatorConfig] = Field(default_factory=lambda: {"pix2pix": {"family": "pix2pix"}})

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value in TRANSLATION_PAIRS:
            return value
        parts = value.split(",")
        if len(parts) == 2 and all(p.startswith("folder:") and len(p) > 7 for p in parts):
            return value
        raise ValueError(
            f"must be {', '.join(TRANSLATION_PAIRS)} or folder:<A>,folder:<B> (no commas in the paths) (got {value!r})"
        )

    @field_validator("variants", mode="before")
    @classmethod
    def _family_from_name(cls, value: Any) -> Any:
        """A variant named like a family (`pix2pix:`, `cyclegan:`) is of that family unless it says otherwise."""
        if not isinstance(value, dict):
            return value
        if not value:
            raise ValueError("define at least one translator variant")
        out = {}
        for name, body in value.items():
            if not str(name).replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"variant name {name!r} may hold only letters, digits, _ and -")
            if isinstance(body, dict) and "family" not in body and name in TRANSLATION_FAMILIES:
                body = {"family": name, **body}
            out[name] = body
        return out


class ScheduleConfig(_Strict):
    """`schedule`: when `make serve` runs the retrain flow (pipeline/serve.py; keep prefect.yaml in step)."""

    cron: str = "0 3 * * 1"
    timezone: str = "UTC"


class Params(_Strict):
    seed: Annotated[int, Field(ge=0)] = 0
    data: DataConfig = DataConfig()
    evaluator: EvaluatorConfig = EvaluatorConfig()
    gan: GanConfig = GanConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    detector: DetectorConfig = DetectorConfig()
    translation: TranslationConfig = TranslationConfig()
    video: VideoConfig = VideoConfig()  # video GANs on clips (config/video.py, README "Video generation")
    schedule: ScheduleConfig = ScheduleConfig()
    # `register` in params.yaml; renamed here because pydantic models reserve that attribute name.
    registry: RegisterConfig = Field(default_factory=RegisterConfig, alias="register")


def _describe(error: dict, source: str) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "<root>"
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}' (check the spelling; see params.yaml in the repo)"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    suffix = "" if isinstance(got, dict) else f" (got {got!r})"
    if "got " in message:
        suffix = ""
    return f"{source}: {key}: {message}{suffix}"


def parse_params(raw: dict | None, source: str = "params.yaml") -> Params:
    """Validate a parsed params mapping; raise ConfigError naming the first bad key. The checks that need
    the registries (names, sizes, batch vs data) run at the entry point: ganops.cli.checks."""
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], source)) from None


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    """`params.yaml:12:5: not valid YAML: mapping values are not allowed here` (1-based line:column)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found (run from the repo root or pass --params)")
    try:
        raw = read_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(path, exc)) from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return parse_params(raw, str(path))
