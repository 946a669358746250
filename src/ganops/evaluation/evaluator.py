"""The domain feature network: a small CNN classifier whose penultimate layer gives FID/KID features.

Inception-v3 features describe ImageNet photos, not 28×28 digits, so ganops trains its own judge on
the prepared real images (the practice of the original MNIST GAN evaluations, e.g. the LeNet "MNIST
score"): class logits feed the Inception Score and mode coverage, and the `feature_dim` activations
before the classifier feed FID, KID and precision/recall. Without labels (a plain image folder, all
labels -1) it learns a rotation-prediction pretext task (0/90/180/270°, Gidaris et al. 2018) instead,
which still forces features that know what upright images of the domain look like.

The network records the image shape it was trained on and refuses others: features of a 32×32 RGB
image through a 28×28 gray network would be meaningless numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganops.config.params import EvaluatorConfig
from ganops.core.atomic import save_torch

TASK_CLASSES = "classes"
TASK_ROTATION = "rotation"
ROTATION_NAMES = ["0", "90", "180", "270"]
FORMAT_VERSION = 1
_SHIFT_PIXELS = 2  # augmentation: random translations of up to this many pixels
MIN_STEPS = 100  # small sets (a 200-image folder) get extra epochs up to this many optimizer steps


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Evaluator(nn.Module):
    """CNN on (B, C, H, W) images in [0, 1] -> logits (B, K); `features` gives (B, feature_dim)."""

    network = "domain"  # the feature space named in metric keys (ganops.evaluation.metric_keys.DOMAIN)

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        feature_dim: int,
        task: str = TASK_CLASSES,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (int(channels), int(height), int(width))
        self.num_classes = int(num_classes)
        self.feature_dim = int(feature_dim)
        self.task = task
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        self.trunk = nn.Sequential(
            _conv_block(channels, 32),
            nn.MaxPool2d(2),  # 28 -> 14
            _conv_block(32, 64),
            nn.MaxPool2d(2),  # 14 -> 7
            _conv_block(64, 128),
            nn.AdaptiveAvgPool2d(3),  # any H, W >= 8 -> 3×3
            nn.Flatten(),
        )
        self.embed = nn.Sequential(
            nn.Linear(128 * 9, feature_dim, bias=False), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)
        # 1 / temperature, fitted after training (`calibrate`) so softmax outputs are calibrated
        # probabilities: the Inception Score reads p(y|x) as probabilities, not just its argmax.
        self.register_buffer("logit_scale", torch.ones(()))

    def check_input(self, x: torch.Tensor) -> None:
        """ValueError unless x is (B, C, H, W) with the trained C, H, W."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            got = "×".join(str(s) for s in x.shape[1:]) if x.ndim == 4 else f"a {x.ndim}-d tensor {tuple(x.shape)}"
            want = "×".join(str(s) for s in self.image_shape)
            raise ValueError(
                f"feature network trained on {want} images, got {got}; evaluate images of the prepared "
                "size and channels, or retrain the evaluator on this data"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.embed(self.trunk(x))  # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]  # (B, K)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)  # (B, feature_dim)
        return features, self.head(self.dropout(features)) * self.logit_scale  # (B, K)


def build_evaluator(image_shape: tuple[int, int, int], num_classes: int, feature_dim: int) -> Evaluator:
    channels, height, width = image_shape
    if channels not in (1, 3) or min(height, width) < 8:
        raise ValueError(
            f"evaluator: images must have 1 or 3 channels and sides of at least 8 pixels, got "
            f"{channels}×{height}×{width}"
        )
    if num_classes < 2:
        raise ValueError(f"evaluator: need at least 2 classes, got {num_classes}")
    return Evaluator(image_shape, num_classes, feature_dim)


# --- training ---


def _random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to _SHIFT_PIXELS in x and y, filling with zeros."""
    batch, _, height, width = x.shape
    pad = _SHIFT_PIXELS
    padded = F.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2p, W + 2p)
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
    rows = offsets[:, :1] + torch.arange(height)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(width)  # (B, W)
    index = torch.arange(batch)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _rotate_batch(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate each (C, H, W) image by turns[i] × 90° (square images)."""
    out = x.clone()
    for k in range(1, 4):
        chosen = turns == k
        if chosen.any():
            out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
    return out


def _rotation_set(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image in all four rotations, labelled 0..3."""
    rotated = [torch.rot90(images, k, dims=(2, 3)) for k in range(4)]
    labels = torch.arange(4).repeat_interleave(len(images))
    return torch.cat(rotated), labels


def calibrate(model: Evaluator, logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017): fit `logit_scale` by NLL on held-out data; returns it.

    logits: `_logits` of the held-out images (scale 1). One scalar, so the argmax (and the accuracy)
    is unchanged.
    """
    log_scale = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_scale], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits * log_scale.exp(), labels.cpu())
        loss.backward()
        return loss

    optimizer.step(closure)
    scale = float(log_scale.detach().exp().clamp(0.05, 20.0))
    model.logit_scale.fill_(scale)
    return scale


@torch.no_grad()
def _logits(model: Evaluator, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(N, classes) float64 CPU logits at logit_scale 1, in batches (the model is left in eval mode)."""
    model.eval()
    model.logit_scale.fill_(1.0)
    return torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]).double().cpu()


def _check_training_data(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype != np.float32:
        raise ValueError(f"train_evaluator: {name} images must be float32 (N, C, H, W) in [0, 1]")
    if labels.shape != (len(images),):
        raise ValueError(f"train_evaluator: {name} labels must have shape ({len(images)},), got {labels.shape}")
    if len(images) == 0:
        raise ValueError(f"train_evaluator: no {name} images")


def train_evaluator(
    cfg: EvaluatorConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    seed: int,
    device: str = "cpu",
) -> tuple[Evaluator, dict]:
    """Train the domain CNN on labelled images (or on rotations when all labels are -1).

    images: float32 (N, C, H, W) in [0, 1]; labels: int (N,), -1 = unknown. Images with an unknown
    label are left out of class training. Returns the model (eval mode, on `device`) and a report with
    `evaluator_test_accuracy`, `evaluator_task`, `evaluator_epochs`, `evaluator_seconds`,
    `evaluator_train_images`, `evaluator_logit_scale` (1 / softmax temperature, fitted on the test
    images after training, see `calibrate`). Sets too small for `MIN_STEPS` optimizer steps in
    `cfg.epochs` epochs train for more epochs (reported).
    """
    _check_training_data(train_images, train_labels, "train")
    _check_training_data(test_images, test_labels, "test")
    started = time.perf_counter()
    task, x_train, y_train, num_classes, x_test, y_test = _task_sets(
        train_images, train_labels, test_images, test_labels
    )
    x_test, y_test = x_test.to(device), y_test.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_evaluator(tuple(int(s) for s in train_images.shape[1:]), num_classes, cfg.feature_dim)
        model = model.to(device)
    model.task = task
    model.class_names = ROTATION_NAMES if task == TASK_ROTATION else [str(i) for i in range(num_classes)]
    # Dropout draws from torch's global generator: seed it for the fit (and restore it afterwards), or
    # two runs of the same stage train different judges and every FID / IS beside them moves.
    cuda = torch.device(device)
    with torch.random.fork_rng(devices=[cuda.index or 0] if cuda.type == "cuda" else []):
        torch.manual_seed(seed)
        epochs = _fit(model, cfg, x_train, y_train, task, seed, device)
    model.eval()
    accuracy, scale = float("nan"), 1.0
    if len(x_test):  # one pass over the test images serves the accuracy and the temperature
        logits = _logits(model, x_test)
        accuracy = int((logits.argmax(dim=1) == y_test.cpu()).sum()) / len(x_test)
        if len(x_test) >= 2:
            scale = calibrate(model, logits, y_test)
    report = {
        "evaluator_test_accuracy": accuracy,
        "evaluator_logit_scale": scale,
        "evaluator_task": task,
        "evaluator_epochs": epochs,
        "evaluator_seconds": time.perf_counter() - started,
        "evaluator_train_images": len(x_train),
    }
    return model, report


def _task_sets(train_images, train_labels, test_images, test_labels):
    """(task, train images, train labels, number of classes, test images, test labels) for the CNN.

    Classes when at least two distinct labels are known; otherwise the 4-way rotation task on all images.
    """
    labelled = train_labels >= 0
    if labelled.sum() >= 2 and len(np.unique(train_labels[labelled])) >= 2:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
        test_keep = test_labels >= 0
        x_test = torch.from_numpy(test_images[test_keep])
        y_test = torch.from_numpy(test_labels[test_keep].astype(np.int64))
        return TASK_CLASSES, train_images[labelled], train_labels[labelled], num_classes, x_test, y_test
    height, width = train_images.shape[2:]
    if height != width:
        raise ValueError(
            f"train_evaluator: unlabelled images train a rotation task, which needs square images; got "
            f"{height}×{width} (set data.image_size)"
        )
    x_test, y_test = _rotation_set(torch.from_numpy(test_images))
    return TASK_ROTATION, train_images, np.zeros(len(train_images), dtype=np.int64), 4, x_test, y_test


def _fit(model: Evaluator, cfg: EvaluatorConfig, x_train, y_train, task: str, seed: int, device: str) -> int:
    """Train `model` in place (Adam, one-cycle schedule, random shifts); returns the number of epochs run."""
    generator = torch.Generator().manual_seed(seed)
    order_rng = np.random.default_rng([seed, 1])
    x_all = torch.from_numpy(np.ascontiguousarray(x_train))
    y_all = torch.from_numpy(y_train.astype(np.int64))
    steps_per_epoch = max(1, -(-len(x_all) // cfg.batch_size))
    epochs = max(cfg.epochs, -(-MIN_STEPS // steps_per_epoch))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch, pct_start=0.2
    )
    for _epoch in range(epochs):
        model.train()
        order = torch.from_numpy(order_rng.permutation(len(x_all)))
        for start in range(0, len(order), cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            if len(index) < 2:  # BatchNorm needs two samples
                continue
            x, y = x_all[index], y_all[index]
            if task == TASK_ROTATION:
                y = torch.randint(0, 4, (len(x),), generator=generator)
                x = _rotate_batch(x, y)
            x = _random_shift(x, generator).to(device)  # (B, C, H, W)
            loss = F.cross_entropy(model(x), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return epochs


# --- persistence ---


def save_evaluator(model: Evaluator, path: str | Path, meta: dict | None = None) -> None:
    """Write weights + architecture facts as a plain dict (atomic). `meta`: extra JSON-like facts.

    `meta["class_names"]` (e.g. the dataset's folder names) replaces the model's default names when
    it has one name per class of a class-trained network.
    """
    meta = dict(meta or {})
    names = meta.get("class_names")
    if model.task == TASK_CLASSES and isinstance(names, list) and len(names) == model.num_classes:
        model.class_names = [str(name) for name in names]
    payload = {
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "image_shape": list(model.image_shape),
        "num_classes": model.num_classes,
        "feature_dim": model.feature_dim,
        "task": model.task,
        "class_names": list(model.class_names),
        "meta": meta,
    }
    save_torch(path, payload)


def load_evaluator(path: str | Path, device: str = "cpu") -> Evaluator:
    """Load a network written by `save_evaluator`, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: evaluator weights not found; run `dvc repro train_evaluator` (or `ganops train-evaluator`)"
        )
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated file, not a torch file, pickled objects
        raise ValueError(f"{path}: not a ganops evaluator file ({type(exc).__name__}: {exc})") from None
    needed = ("state_dict", "image_shape", "num_classes", "feature_dim", "task")
    if not isinstance(payload, dict) or any(key not in payload for key in needed):
        raise ValueError(f"{path}: not a ganops evaluator file (needs keys {', '.join(needed)}); retrain it")
    model = Evaluator(
        tuple(payload["image_shape"]),
        payload["num_classes"],
        payload["feature_dim"],
        task=payload["task"],
        class_names=payload.get("class_names"),
    )
    model.load_state_dict(payload["state_dict"])
    # channels_last weights: oneDNN's CPU convolutions ran the features of 5,000 digits 1.6x faster than
    # NCHW at batch 500, 2.5x at batch 128 (1 thread, AVX2; features within 5e-6). A loaded evaluator only scores.
    return model.to(device, memory_format=torch.channels_last).eval()


def evaluator_meta(path: str | Path) -> dict:
    """The `meta` dict stored with a saved evaluator (training report etc.)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    return dict(payload.get("meta", {}))
