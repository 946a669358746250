"""Config objects as plain dicts, without importing pydantic (the training core runs on torch alone)."""

from __future__ import annotations

import dataclasses
from typing import Any


def config_dict(cfg: Any) -> dict[str, Any]:
    """A pydantic config, dataclass or namespace as a plain dict."""
    if hasattr(cfg, "model_dump"):
        return cfg.model_dump()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return dict(vars(cfg))


def with_values(cfg: Any, **values: Any) -> Any:
    """A copy of a pydantic config, dataclass or namespace with `values` replaced."""
    if hasattr(cfg, "model_copy"):
        return cfg.model_copy(update=values)
    if dataclasses.is_dataclass(cfg):
        return dataclasses.replace(cfg, **values)
    return type(cfg)(**{**vars(cfg), **values})
