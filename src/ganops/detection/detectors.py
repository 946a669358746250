"""Real-vs-fake image detectors, looked up by name in `DETECTORS` (label 1 = fake).

Every detector takes real and fake images in the same layout, float32 (N, C, H, W) in [0, 1], and
has the same small interface:

    detector = DETECTORS[name](cfg_section, device)  # cfg_section = getattr(detector_cfg, name)
    detector.fit(real, fake, seed)                   # returns the detector
    detector.raw_score(images)                       # (N,) float64 logit, higher = more fake
    detector.predict_proba(images)                   # (N,) uncalibrated sigmoid(raw_score)
    detector.state() / Cls.from_state(state)         # plain tensors and numbers, no pickle

Calibration and the threshold are added on top by `detector_training.train_detector`.
- `cnn`: a small convolutional net (BatchNorm, LeakyReLU, `build_cnn`) on pixels, trained on
  degraded copies of both classes alike (blur, downscale, noise, JPEG; Wang et al. 2020), drawn
  afresh for every batch by augment.py, so that no degradation carries the label.
- `spectrum`: radial log spectrum + log-DCT features (Durall 2020, Frank 2020), standardised, into
  an L2 logistic regression. Fast, and transparent about *why* (frequency artefacts).
Both weight the classes equally, so unbalanced real/fake counts do not shift the score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit

DETECTORS: dict[str, type] = {}


def register_detector(name: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        cls.name = name
        DETECTORS[name] = cls
        return cls

    return decorate


def _labelled(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    assert real.ndim == 4 and real.shape[1:] == fake.shape[1:], (real.shape, fake.shape)
    images = np.concatenate([real, fake]).astype(np.float32)  # (N, C, H, W)
    labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))]).astype(np.float32)
    return images, labels


# --- cnn ---


CNN_ARCH = 2  # stored in detector.pt; 1 = the pre-issue-13 net, still loadable


def _block(c_in: int, c_out: int) -> list:
    from torch import nn

    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


def build_cnn(in_channels: int, width: int, arch: int = CNN_ARCH):
    """(B, C, H, W) in [0, 1] -> (B,) logit; any H, W >= 4.

    arch 2: one conv at full resolution (per-pixel artefacts survive the max-pool), then two convs
    each at 1/2 and 1/4 resolution, where the digit's shape is judged and compute is cheap, and a
    3x3 average-pooled map into the linear head (where on the image, not only what). Blur and
    resizing erase per-pixel artefacts, so this is where a robust detector's capacity goes (how the
    recipe was chosen: params.yaml, detector.cnn).
    arch 1: two convs at full resolution, one each at 1/2 and 1/4, global average pool.
    """
    from torch import nn

    w = width
    if arch == 1:
        body = [*_block(in_channels, w), *_block(w, w), nn.MaxPool2d(2), *_block(w, 2 * w), nn.MaxPool2d(2)]
        body += [*_block(2 * w, 4 * w)]
        return nn.Sequential(*body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, 1), nn.Flatten(0))
    assert arch == 2, arch
    body = [*_block(in_channels, w), nn.MaxPool2d(2), *_block(w, 2 * w), *_block(2 * w, 2 * w), nn.MaxPool2d(2)]
    body += [*_block(2 * w, 4 * w), *_block(4 * w, 4 * w)]
    head = [nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(4 * w * 9, 1), nn.Flatten(0)]
    return nn.Sequential(*body, *head)


# (row, col) offsets of the views: the image, then moved down, up, right, left
_VIEW_DIRECTIONS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def shifted_views(x, shift: int):
    """(V * B, C, H, W): x (B, C, H, W) and, for shift > 0, x moved `shift` px down, up, right, left.

    Test-time augmentation: averaging the CNN's logits over these views cut its validation error
    (validation split, `benchmarks/detector_recipe.py --seed 0..3 --set test_time_shift=0` vs `=1`, the
    same trained nets: AUC 0.9948 -> 0.9968, TPR@1%FPR 0.90 -> 0.92, downscale x0.5 AUC 0.938 -> 0.946
    on average, every AUC better in every seed; README "How the detector recipe was chosen"). The
    pixels moved in repeat the border (black for digits, where zeros scored the same; no dark frame
    drawn into a photo).
    """
    import torch
    import torch.nn.functional as F

    if shift == 0:
        return x
    h, w = x.shape[2:]
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    offsets = [(shift * dy, shift * dx) for dy, dx in _VIEW_DIRECTIONS]  # view = x moved by -offset
    return torch.cat([padded[:, :, shift + dy : shift + dy + h, shift + dx : shift + dx + w] for dy, dx in offsets])


def num_views(shift: int) -> int:
    """How many views `shifted_views` makes of each image."""
    return len(_VIEW_DIRECTIONS) if shift else 1


@register_detector("cnn")
class CnnDetector:
    name = "cnn"

    def __init__(self, cfg: Any = None, device: str = "cpu") -> None:
        self.cfg, self.device, self.net = cfg, device, None
        self.train_seconds = 0.0
        self.test_time_shift = 0 if cfg is None else int(cfg.test_time_shift)  # a loaded state sets its own

    def fit(self, real: np.ndarray, fake: np.ndarray, seed: int) -> CnnDetector:
        import torch

        from ganops.detection.augment import Degradations, degrade

        cfg = self.cfg
        images, labels = _labelled(real, fake)
        start = time.perf_counter()
        torch.manual_seed(seed)
        # The net and its batches in NHWC: oneDNN's CPU convolutions ran the training step 1.4x and
        # inference 1.8x faster than NCHW on 1 thread (benchmarks/cpu_layout.py); same maths.
        self.net = build_cnn(images.shape[1], cfg.width).to(self.device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        steps_per_epoch = -(-len(images) // cfg.batch_size)
        schedule = None
        if cfg.lr_schedule == "cosine":  # to 0 over the whole run, per step
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs * steps_per_epoch)
        pos_weight = torch.tensor(len(real) / len(fake), device=self.device)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        recipe = Degradations.from_config(cfg)
        draws = torch.Generator().manual_seed(seed)  # shuffling and degradations
        x, y = torch.from_numpy(images), torch.from_numpy(labels).to(self.device)  # (N, C, H, W), (N,)
        self.net.train()
        for _epoch in range(cfg.epochs):
            for batch in torch.randperm(len(x), generator=draws).split(cfg.batch_size):
                # Degraded copies drawn afresh for every batch, from one distribution for both classes.
                x_batch = degrade(x[batch], recipe, draws).to(self.device, memory_format=torch.channels_last)
                loss = loss_fn(self.net(x_batch * 2 - 1), y[batch.to(self.device)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
        self.net.eval()
        self.train_seconds = time.perf_counter() - start
        return self

    def raw_score(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logit of p_fake (N,), averaged over the test-time views (`shifted_views`).

        `batch_size` counts views per forward pass: on 1 CPU thread 256 ran 2x faster than 1,024 (the
        activations stay in cache), and the views of one image go through the net together.
        """
        import torch

        assert self.net is not None, "fit or load the detector first"
        out = []
        chunk = max(1, batch_size // num_views(self.test_time_shift))
        with torch.inference_mode():
            for start in range(0, len(images), chunk):
                x = torch.from_numpy(np.ascontiguousarray(images[start : start + chunk], np.float32))
                views = shifted_views(x, self.test_time_shift).to(self.device, memory_format=torch.channels_last)
                logits = self.net(views * 2 - 1).double().view(-1, len(x)).mean(dim=0)
                out.append(logits.cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return expit(self.raw_score(images))

    def state(self) -> dict:
        first = self.net[0]
        return {
            "arch": CNN_ARCH,
            "in_channels": int(first.in_channels),
            "width": int(first.out_channels),
            "test_time_shift": self.test_time_shift,
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
        }

    @classmethod
    def from_state(cls, state: dict, device: str = "cpu") -> CnnDetector:
        import torch

        detector = cls(None, device)
        detector.net = build_cnn(state["in_channels"], state["width"], int(state.get("arch", 1)))
        detector.net.load_state_dict(state["state_dict"])
        detector.test_time_shift = int(state.get("test_time_shift", 0))  # detectors saved before it: none
        detector.net.to(device, memory_format=torch.channels_last).eval()
        return detector


# --- spectrum ---


@register_detector("spectrum")
class SpectrumDetector:
    name = "spectrum"

    def __init__(self, cfg: Any = None, device: str = "cpu") -> None:
        self.cfg = cfg
        self.features = cfg.features if cfg is not None else "both"
        self.dct_grid = cfg.dct_grid if cfg is not None else 32
        self.mean = self.scale = self.coef = None  # (F,) each, float64
        self.intercept = 0.0
        self.train_seconds = 0.0

    def _features(self, images: np.ndarray) -> np.ndarray:
        from ganops.detection.features import spectrum_features

        return spectrum_features(images, self.features, self.dct_grid)  # (N, F)

    def fit(self, real: np.ndarray, fake: np.ndarray, seed: int) -> SpectrumDetector:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        images, labels = _labelled(real, fake)
        start = time.perf_counter()
        features = self._features(images)
        scaler = StandardScaler().fit(features)
        model = LogisticRegression(C=self.cfg.logreg_c, class_weight="balanced", max_iter=5000, random_state=seed)
        model.fit(scaler.transform(features), labels)
        self.mean, self.scale = scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64)
        self.coef, self.intercept = model.coef_[0].astype(np.float64), float(model.intercept_[0])
        self.train_seconds = time.perf_counter() - start
        return self

    def raw_score(self, images: np.ndarray) -> np.ndarray:
        assert self.coef is not None, "fit or load the detector first"
        if len(images) == 0:
            return np.zeros(0)
        return (self._features(images) - self.mean) / self.scale @ self.coef + self.intercept

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return expit(self.raw_score(images))

    def state(self) -> dict:
        import torch

        return {
            "features": self.features,
            "dct_grid": int(self.dct_grid),
            "scaler_mean": torch.from_numpy(self.mean),
            "scaler_scale": torch.from_numpy(self.scale),
            "coef": torch.from_numpy(self.coef),
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_state(cls, state: dict, device: str = "cpu") -> SpectrumDetector:
        detector = cls(None, device)
        detector.features, detector.dct_grid = state["features"], int(state["dct_grid"])
        detector.mean = state["scaler_mean"].numpy().astype(np.float64)
        detector.scale = state["scaler_scale"].numpy().astype(np.float64)
        detector.coef = state["coef"].numpy().astype(np.float64)
        detector.intercept = float(state["intercept"])
        return detector
