"""What every `ganops` command shares: the error contract and the one-time params load."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from ganops.config.params import ConfigError, Params, VariantConfig, load_params

PARAMS = typer.Option(Path("params.yaml"), "--params", help="params file (YAML)")
DATA = typer.Option(Path("data/prepared"), "--data", help="prepared data folder")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Bad params → exit 2; bad input files / missing weights → exit 1; one line, no traceback."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def load_stage_params(params_path: Path) -> Params:
    """Load and validate params.yaml once, and apply the process-wide torch thread policy."""
    with user_errors():
        params = load_params(params_path)
    from ganops.core.devices import set_cpu_threads

    set_cpu_threads(params.gan.cpu_threads)
    return params


def variant_config(cfg: Params, variant: str) -> VariantConfig:
    """The `gan.variants.VARIANT` section; an undefined name is a params error (exit 2)."""
    with user_errors():
        if variant not in cfg.gan.variants:
            defined = ", ".join(cfg.gan.variants)
            raise ConfigError(f"gan.variants: no variant {variant!r} (defined: {defined})")
    return cfg.gan.variants[variant]
