"""What a served ganops model accepts per request, set where it is served (environment variables).

The model files in the registry carry no server policy: the operator decides at `mlflow models serve`
time. Defaults are safe: the `path` input (reading image files on the server) is off until
`GANOPS_SERVE_PATH_ROOT` names the one folder it may read from.

| variable | default | meaning |
|---|---|---|
| `GANOPS_SERVE_PATH_ROOT` | unset: `path` input off | folder the `path` column may read from |
| `GANOPS_SERVE_MAX_IMAGES` | 256 | images (rows) per request |
| `GANOPS_SERVE_MAX_BYTES` | 64 MiB | bytes per request (pixel arrays) and per file (`path` input) |
| `GANOPS_MAX_PIXELS` | data.max_pixels default | largest image decoded (width x height, from the header) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ganops.data.images import DEFAULT_MAX_PIXELS

PATH_ROOT_ENV = "GANOPS_SERVE_PATH_ROOT"
MAX_IMAGES_ENV = "GANOPS_SERVE_MAX_IMAGES"
MAX_BYTES_ENV = "GANOPS_SERVE_MAX_BYTES"
MAX_PIXELS_ENV = "GANOPS_MAX_PIXELS"


@dataclass(frozen=True)
class ServingLimits:
    path_root: Path | None = None  # None: the `path` input is refused
    max_images: int = 256
    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServingLimits:
        """Read the limits from the environment; a bad value stops the server at model load."""
        env = os.environ if env is None else env

        def positive(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            try:
                value = int(raw) if raw else default
            except ValueError:
                value = 0
            if value < 1:
                raise ValueError(f"{name}={raw!r}: expected a positive integer")
            return value

        root = env.get(PATH_ROOT_ENV, "").strip()
        if root and not Path(root).is_dir():
            raise ValueError(f"{PATH_ROOT_ENV}={root!r}: not a folder; name the folder `path` may read from")
        return cls(
            path_root=Path(root).resolve() if root else None,
            max_images=positive(MAX_IMAGES_ENV, cls.max_images),
            max_bytes=positive(MAX_BYTES_ENV, cls.max_bytes),
            max_pixels=positive(MAX_PIXELS_ENV, cls.max_pixels),
        )

    def check_count(self, count: int) -> None:
        if count > self.max_images:
            raise ValueError(
                f"{count} images in one request; this server takes at most {self.max_images} "
                f"({MAX_IMAGES_ENV}); split the request"
            )

    def check_bytes(self, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            raise ValueError(
                f"request holds {nbytes:,} bytes of pixels; this server takes at most {self.max_bytes:,} "
                f"({MAX_BYTES_ENV}); split the request"
            )
