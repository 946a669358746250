"""Generation metrics in a feature network's space: FID, KID, IS, precision/recall, mode coverage.

Each image set goes through the evaluator once (`compute_features`); every metric is then computed from
those features and logits, with seeded subset draws so a rerun gives the same numbers:

- FID: `ganops.evaluation.frechet.frechet_distance` on float64 statistics (torchmetrics' `_compute_fid` takes
  eigenvalues of a non-symmetric product in torch; ours is the symmetric, faster form), plus a bootstrap
  standard deviation (`fid_std`).
- KID: torchmetrics' `poly_mmd` (cubic polynomial kernel, unbiased MMD²) on `kid_subsets` random subsets
  of `kid_subset_size` (clipped to the smaller set), mean and population std as torchmetrics reports.
- IS: exp(E KL(p(y|x) || p(y))) over `is_splits` splits, the torchmetrics `InceptionScore` formula, on
  the evaluator's class logits. Only for class-trained evaluators: a rotation-task network's "classes"
  are rotations, so IS and mode coverage are left out (keys absent) for unlabelled data.
- Precision / recall: Kynkäänniemi et al. 2019 (k = 3): the share of generated samples inside the real
  manifold (union of k-NN balls around real features) and vice versa. torchmetrics has no version.
- Mode coverage: predicted-class histograms of generated vs real images: `classes_covered` counts the
  classes whose generated share is at least a quarter of their real share; `class_kl` is
  KL(generated || real) in nats (0 = same class balance, log K = everything in one of K balanced classes).

Feature networks (`evaluate.networks`; every key ends with the network's name):

- `domain` (default): the evaluator CNN trained on the prepared images (ganops.evaluation.evaluator); features
  are its `feature_dim`-d penultimate layer, logits its own classes. Images go in as prepared.
- `inception`: the standard FID Inception-v3 (ganops.evaluation.inception.load_inception, weights
  `pt_inception-2015-12-05-6726825d.pth`, sha256-checked, never downloaded). Features are the 2048-d
  pool3 activations, IS uses its 1008 ImageNet-class logits (without the fc bias, like the original
  IS code), and there is no mode coverage (`classes_covered_*` / `class_kl_*` need the domain's own
  classes). Inside the network, as pytorch-fid does: float images in [0, 1] (N, C, H, W); gray (C = 1)
  is repeated to 3 channels; `F.interpolate(..., size=(299, 299), mode="bilinear",
  align_corners=False)` (pytorch-fid's `resize_input`, no antialiasing); then scaled to [-1, 1] by
  2x - 1. Images are not rounded to 8 bits first (pytorch-fid reads 8-bit files, so its inputs lie on the
  1/255 grid; generated images here do not). These features describe ImageNet photos: for small
  digits they are for comparison with the literature, the domain network is the primary judge.

The same evaluator works inside torchmetrics' own metric classes through `DomainFeatureExtractor`
(`FrechetInceptionDistance(feature=DomainFeatureExtractor(ev))`); tests cross-check the two paths.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ganops.config.params import EvaluateConfig
from ganops.evaluation import metric_keys as K
from ganops.evaluation.evaluator import TASK_CLASSES, Evaluator
from ganops.evaluation.frechet import frechet_distance, mean_and_covariance

PR_NEIGHBOURS = 3  # k of the k-NN manifold estimate (Kynkäänniemi et al. 2019)
FID_BOOTSTRAPS = 20
COVERED_SHARE = 0.25  # a class is covered if its generated share ≥ this × its real share
_HIST_PSEUDOCOUNT = 0.5  # keeps class_kl finite when a class is never predicted
_CHUNK = 1024  # rows per pairwise-distance block (1024 × 10k float32 = 40 MB)

FeatureSet = tuple[np.ndarray, np.ndarray]  # (features (N, d) float32, logits (N, K) float32)


class FeatureNetwork(Protocol):
    """What the suite needs from a network: evaluator.Evaluator or inception.FIDInceptionV3."""

    image_shape: tuple[int, int, int]
    feature_dim: int
    num_classes: int
    task: str  # "classes" or "rotation"
    network: str  # names the feature space in metric keys: "domain" or "inception"

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def parameters(self): ...

    def eval(self): ...


class DomainFeatureExtractor(nn.Module):
    """The evaluator as a torchmetrics feature extractor: images -> features (N, d) or logits (N, K).

    Accepts float images in [0, 1] or uint8 images in [0, 255] (torchmetrics' `normalize=True` turns
    images into uint8 for IS), so pass `normalize=False` with float images or `normalize=True` with
    either. Stays in eval mode even if torchmetrics calls `.train()`.
    """

    def __init__(self, evaluator: Evaluator, output: str = "features") -> None:
        super().__init__()
        if output not in ("features", "logits"):
            raise ValueError(f"output must be 'features' or 'logits', got {output!r}")
        self.evaluator = evaluator.eval()
        self.output = output
        self.num_features = evaluator.feature_dim if output == "features" else evaluator.num_classes

    def train(self, mode: bool = True) -> DomainFeatureExtractor:
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0  # (B, C, H, W)
        features, logits = self.evaluator.features_and_logits(images)
        return features if self.output == "features" else logits


# --- input checks and feature extraction ---


def check_images(images: np.ndarray | torch.Tensor, evaluator: FeatureNetwork, name: str = "images") -> torch.Tensor:
    """`images` as a float32 CPU tensor (N, C, H, W), or ValueError saying what was expected."""
    from ganops.data.validate import check_image_batch

    if not isinstance(images, np.ndarray | torch.Tensor):
        got = type(images).__name__
        raise ValueError(f"{name}: expected a float32 array (N, C, H, W) in [0, 1], got {got}")
    checked = check_image_batch(
        images, evaluator.image_shape, name, float32_only=True, slack=0.0, min_count=2,
        allow_missing_channel=False,
    )  # fmt: skip
    return torch.from_numpy(checked)


@torch.no_grad()
def compute_features(
    evaluator: FeatureNetwork, images: np.ndarray | torch.Tensor, batch_size: int = 128, name: str = "images"
) -> FeatureSet:
    """(features (N, feature_dim), logits (N, K)) as float32 NumPy arrays, in batches on the model's device.

    `name` labels the set in error messages. Batches of 128 ran 1.4x faster than 500 on one CPU thread
    (the activations stay in cache; `load_evaluator`'s channels_last weights another 1.8x).
    """
    images = check_images(images, evaluator, name)
    evaluator.eval()
    device = next(evaluator.parameters()).device
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)  # (B, C, H, W)
        f, logit = evaluator.features_and_logits(batch)
        features.append(f.float().cpu())
        logits.append(logit.float().cpu())
    return torch.cat(features).numpy(), torch.cat(logits).numpy()


# --- metrics on features ---


def _warn_rank(features: np.ndarray, name: str) -> None:
    count, dim = features.shape
    if count <= dim:
        warnings.warn(
            f"{name}: {count} samples for {dim}-dimensional features, so the covariance is rank-deficient "
            f"(rank ≤ {count - 1}); FID is still finite but strongly biased: use more than {dim} images",
            stacklevel=3,
        )


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets (N, d), (M, d)."""
    _warn_rank(features_a, "FID, first set")
    _warn_rank(features_b, "FID, second set")
    mu_a, sigma_a = mean_and_covariance(features_a)
    mu_b, sigma_b = mean_and_covariance(features_b)
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b)


def fid_bootstrap_std(features_a: np.ndarray, features_b: np.ndarray, seed: int, rounds: int = FID_BOOTSTRAPS) -> float:
    """Std of FID over `rounds` bootstrap resamples (with replacement) of both sets."""
    rng = np.random.default_rng([seed, 2])
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the point estimate already warned
        for _ in range(rounds):
            a = features_a[rng.integers(0, len(features_a), len(features_a))]
            b = features_b[rng.integers(0, len(features_b), len(features_b))]
            values.append(fid_from_features(a, b))
    return float(np.std(values, ddof=1))


def kid_from_features(
    features_real: np.ndarray, features_fake: np.ndarray, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """(mean, population std) of unbiased polynomial-kernel MMD² over random equal-size subsets."""
    from torchmetrics.image.kid import poly_mmd

    size = min(subset_size, len(features_real), len(features_fake))
    real = torch.from_numpy(np.asarray(features_real, np.float64))
    fake = torch.from_numpy(np.asarray(features_fake, np.float64))
    generator = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(subsets):
        real_subset = real[torch.randperm(len(real), generator=generator)[:size]]
        fake_subset = fake[torch.randperm(len(fake), generator=generator)[:size]]
        scores.append(poly_mmd(real_subset, fake_subset))
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


def inception_score_from_logits(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    """(mean, std over splits) of exp(E_x KL(p(y|x) || p(y))); the order is shuffled with `seed` first."""
    logits_t = torch.from_numpy(np.asarray(logits, np.float64))
    order = torch.randperm(len(logits_t), generator=torch.Generator().manual_seed(seed))
    log_prob = logits_t[order].log_softmax(dim=1)  # (N, K)
    splits = max(1, min(splits, len(logits_t)))
    scores = []
    for part in log_prob.chunk(splits, dim=0):
        log_marginal = part.exp().mean(dim=0, keepdim=True).log()  # (1, K)
        kl = (part.exp() * (part - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    std = float(values.std()) if len(values) > 1 else 0.0
    return float(values.mean()), std


def _kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row: (N,)."""
    radii = []
    for start in range(0, len(features), _CHUNK):
        distances = torch.cdist(features[start : start + _CHUNK], features)  # (b, N), self at ~0
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(radii)


def _share_inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of query rows within radius of at least one centre (the k-NN manifold of `centres`)."""
    inside = 0
    for start in range(0, len(queries), _CHUNK):
        distances = torch.cdist(queries[start : start + _CHUNK], centres)  # (b, M)
        inside += int((distances <= radii[None, :]).any(dim=1).sum())
    return inside / len(queries)


def precision_recall(
    features_real: np.ndarray, features_fake: np.ndarray, k: int = PR_NEIGHBOURS
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls, k = 3 by default.

    precision: share of generated samples inside the real manifold (fidelity); recall: share of real
    samples inside the generated manifold (diversity). Both need more than k samples per set; the radii
    shrink as a set grows, so compare generators at equal set sizes (as the metric keys record).
    """
    if min(len(features_real), len(features_fake)) <= k:
        raise ValueError(f"precision/recall: need more than k={k} samples in each set")
    real = torch.from_numpy(np.asarray(features_real, np.float32))
    fake = torch.from_numpy(np.asarray(features_fake, np.float32))
    precision = _share_inside(fake, real, _kth_neighbour_radii(real, k))
    recall = _share_inside(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall


def class_coverage(logits_fake: np.ndarray, logits_real: np.ndarray) -> tuple[int, float]:
    """(classes covered, KL(generated || real) in nats) of the predicted-class histograms."""
    num_classes = logits_real.shape[1]
    fake_counts = np.bincount(logits_fake.argmax(axis=1), minlength=num_classes).astype(np.float64)
    real_counts = np.bincount(logits_real.argmax(axis=1), minlength=num_classes).astype(np.float64)
    fake_share = fake_counts / fake_counts.sum()
    real_share = real_counts / real_counts.sum()
    covered = int(np.sum((real_share > 0) & (fake_share >= COVERED_SHARE * real_share)))
    p = (fake_counts + _HIST_PSEUDOCOUNT) / (fake_counts.sum() + _HIST_PSEUDOCOUNT * num_classes)
    q = (real_counts + _HIST_PSEUDOCOUNT) / (real_counts.sum() + _HIST_PSEUDOCOUNT * num_classes)
    return covered, float(np.sum(p * np.log(p / q)))


# --- the suites ---


def generation_metrics_from_features(
    fake: FeatureSet,
    real: FeatureSet,
    cfg: EvaluateConfig,
    seed: int,
    task: str = TASK_CLASSES,
    network: str = K.DOMAIN,
) -> dict[str, float]:
    """All generation metrics from precomputed (features, logits); keys name the generated count.

    IS needs class logits (`task` "classes"); mode coverage also needs the domain's own classes.
    """
    fake_features, fake_logits = fake
    real_features, real_logits = real
    count = len(fake_features)

    def key(name: str) -> str:
        return K.metric_key(name, count, network)

    kid, kid_std = kid_from_features(real_features, fake_features, cfg.kid_subsets, cfg.kid_subset_size, seed)
    precision, recall = precision_recall(real_features, fake_features)
    out = {
        key(K.FID): fid_from_features(fake_features, real_features),
        key(K.FID_STD): fid_bootstrap_std(fake_features, real_features, seed),
        key(K.KID): kid,
        key(K.KID_STD): kid_std,
        key(K.PRECISION): precision,
        key(K.RECALL): recall,
    }
    if task == TASK_CLASSES:
        inception, inception_std = inception_score_from_logits(fake_logits, cfg.is_splits, seed)
        out |= {key(K.IS): inception, key(K.IS_STD): inception_std}
    if task == TASK_CLASSES and network == K.DOMAIN:
        covered, kl = class_coverage(fake_logits, real_logits)
        out |= {key(K.CLASSES_COVERED): float(covered), key(K.CLASS_KL): kl}
    return out


def generation_metrics(
    evaluator: FeatureNetwork,
    fake_images: np.ndarray | torch.Tensor,
    real_images: np.ndarray | torch.Tensor,
    cfg: EvaluateConfig,
    seed: int,
) -> dict[str, float]:
    """FID, KID, IS, precision/recall and mode coverage of generated vs real images (N, C, H, W) in [0, 1].

    Keys look like `fid_5k_domain` (see evaluation.metric_keys); the count is len(fake_images), the last
    part the network's feature space (`domain`, or `inception` with evaluation.inception.load_inception).
    """
    fake = compute_features(evaluator, fake_images, cfg.batch_size, "generated images")
    real = compute_features(evaluator, real_images, cfg.batch_size, "real images")
    return generation_metrics_from_features(fake, real, cfg, seed, evaluator.task, evaluator.network)


def noise_images(count: int, image_shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A trivially bad generator: i.i.d. uniform pixels, float32 (count, C, H, W) in [0, 1)."""
    rng = np.random.default_rng([seed, 3])
    return rng.random((count, *image_shape), dtype=np.float32)


def reference_metrics(
    evaluator: FeatureNetwork,
    real_a: np.ndarray | torch.Tensor,
    real_b: np.ndarray | torch.Tensor,
    cfg: EvaluateConfig,
    seed: int,
) -> dict[str, float]:
    """What a perfect and a useless generator would score, to read the generation metrics against.

    real_a, real_b: two disjoint real sets (e.g. the GAN training split and the test split).
    Floor: FID/KID between them; ceiling: IS of real_b. Noise: `cfg.num_images` uniform-noise images
    against real_b. KID is unbiased, so its floor compares directly with `kid_*`; FID is biased upwards
    for small sets, so the floor (at these set sizes) is a lower bound, not an attainable target.
    """
    features_a = compute_features(evaluator, real_a, cfg.batch_size, "real set A")
    features_b = compute_features(evaluator, real_b, cfg.batch_size, "real set B")
    noise = compute_features(evaluator, noise_images(cfg.num_images, evaluator.image_shape, seed), cfg.batch_size)

    def key(name: str) -> str:
        return K.reference_key(name, evaluator.network)

    def kid(real: np.ndarray, fake: np.ndarray) -> float:
        return kid_from_features(real, fake, cfg.kid_subsets, cfg.kid_subset_size, seed)[0]

    out = {
        key(K.FID_FLOOR_REAL): fid_from_features(features_a[0], features_b[0]),
        key(K.KID_FLOOR_REAL): kid(features_b[0], features_a[0]),
        key(K.FID_NOISE): fid_from_features(noise[0], features_b[0]),
        key(K.KID_NOISE): kid(features_b[0], noise[0]),
    }
    if evaluator.task == TASK_CLASSES:
        out[key(K.IS_CEILING_REAL)] = inception_score_from_logits(features_b[1], cfg.is_splits, seed)[0]
        out[key(K.IS_NOISE)] = inception_score_from_logits(noise[1], cfg.is_splits, seed)[0]
    return out
