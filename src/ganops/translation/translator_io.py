"""The exported translator: one `.pt` file with its generators and everything needed to rebuild them.

Format "ganops-translator/1": {"format", "family", "variant_config" (dict), "shape_a" [C, H, W],
"shape_b" [C, H, W], "generators": {"a2b": state_dict[, "b2a": state_dict]}}; plain types only,
loaded with weights_only=True. pix2pix exports a2b; CycleGAN both directions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from ganops.core.atomic import save_torch
from ganops.translation.architectures import build_network

FORMAT = "ganops-translator/1"
DIRECTIONS = ("a2b", "b2a")
TRANSLATOR = "translator.pt"  # models/translation/VARIANT/: the exported (best-checkpoint) translator


def a2b_generator(module: nn.Module) -> nn.Module:
    """The A → B generator of a family's sampler: the module itself, or its "a2b" entry (CycleGAN)."""
    return module["a2b"] if isinstance(module, nn.ModuleDict) else module


def config_dict(cfg: Any) -> dict[str, Any]:
    """A pydantic model, dataclass or namespace as a plain dict."""
    if hasattr(cfg, "model_dump"):
        return cfg.model_dump()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return dict(vars(cfg))


def export_translator(
    path: str | Path, family: str, cfg: Any, generators: dict[str, nn.Module],
    shape_a: tuple[int, int, int], shape_b: tuple[int, int, int],
) -> None:  # fmt: skip
    """Write the translator file atomically; `generators` maps direction (a2b, b2a) to its G."""
    assert set(generators) <= set(DIRECTIONS), generators.keys()
    payload = {
        "format": FORMAT,
        "family": family,
        "variant_config": config_dict(cfg),
        "shape_a": [int(s) for s in shape_a],
        "shape_b": [int(s) for s in shape_b],
        "generators": {
            d: {k: v.detach().cpu().clone() for k, v in G.state_dict().items()} for d, G in generators.items()
        },
    }
    save_torch(path, payload)


def load_translator(path: str | Path, device: str = "cpu") -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Rebuild the generators (eval mode, on `device`) → ({direction: G}, meta without weights)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: translator file not found; train a translation variant first")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a ganops translator file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ganops translator file (expected format {FORMAT!r})")
    meta = {k: v for k, v in payload.items() if k != "generators"}
    cfg = SimpleNamespace(**meta["variant_config"])
    shapes = {"a2b": (meta["shape_a"], meta["shape_b"]), "b2a": (meta["shape_b"], meta["shape_a"])}
    generators = {}
    for direction, state in payload["generators"].items():
        source, target = shapes[direction]
        G = build_network(cfg.generator, cfg, source[0], target[0], source[1])
        G.load_state_dict(state)
        generators[direction] = G.to(device).eval()
    meta["directions"] = sorted(generators)
    return generators, meta


@torch.no_grad()
def translate(G: nn.Module, images: np.ndarray, batch_size: int = 256, device: str | None = None) -> np.ndarray:
    """Images (N, C, H, W) float in [0, 1] → G's translations (N, C', H, W) float32 in [0, 1].

    Runs on `device` (default: where G's weights are)."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"translate: need images (N, C, H, W) with N >= 1, got {images.shape}")
    G = a2b_generator(G)
    device = device or str(next(G.parameters()).device)
    was_training = G.training
    G.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32))
        y = G(x.to(device) * 2 - 1).float()  # (B, C', H, W) in [-1, 1]
        out.append(((y + 1) / 2).clamp(0, 1).cpu().numpy())
    G.train(was_training)
    return np.concatenate(out)  # (N, C', H, W)
