"""What every `ganops` command shares: the error contract and the one-time params load."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import typer

from ganops.config.params import ConfigError, Params, VariantConfig, load_params

PARAMS = typer.Option(Path("params.yaml"), "--params", help="params file (YAML)")
DATA = typer.Option(Path("data/prepared"), "--data", help="prepared data folder")
VARIANT = typer.Argument(..., metavar="VARIANT", help="a GAN variant named under gan.variants in params.yaml")


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
    from ganops.cli.checks import check_params

    with user_errors():
        params = load_params(params_path)
        try:
            check_params(params)
        except ValueError as exc:
            raise ConfigError(f"{params_path}: {str(exc).splitlines()[0]}") from None
    from ganops.core.devices import set_cpu_threads

    set_cpu_threads(params.gan.cpu_threads)
    return params


def not_one_of(value: str, allowed: Iterable[str], what: str, hint: str) -> typer.BadParameter:
    """A usage error (exit 2, with the usage line) naming the allowed values."""
    listed = ", ".join(repr(a) for a in allowed)
    return typer.BadParameter(f"{value!r} is not one of {listed} ({what})", param_hint=hint)


def choice(allowed: Iterable[str], what: str, hint: str) -> Callable[[str], str]:
    """A typer argument callback accepting only `allowed` (fixed choices, e.g. rollback targets)."""
    allowed = tuple(allowed)

    def check(value: str) -> str:
        if value not in allowed:
            raise not_one_of(value, allowed, what, hint)
        return value

    return check


def variant_config(cfg: Params, variant: str) -> VariantConfig:
    """The `gan.variants.VARIANT` section; an undefined name is a usage error (exit 2) listing the names."""
    if variant not in cfg.gan.variants:
        raise not_one_of(variant, cfg.gan.variants, "the variants under gan.variants in params.yaml", "'VARIANT'")
    return cfg.gan.variants[variant]


def echo_written(summary: str, path: Path) -> None:
    """A stage command's output: one human line, then the JSON file it wrote (as written, not a repr)."""
    typer.echo(summary)
    typer.echo(f"wrote {path}:")
    typer.echo(json.dumps(json.loads(Path(path).read_text()), indent=2, sort_keys=True))


def short(metrics: dict, keys: Iterable[str] | None = None, limit: int = 4) -> str:
    """`fid_5000_domain 12.34, is_5000_domain 8.1` — a few numbers, 4 significant digits."""
    picked = [k for k in (keys or metrics) if isinstance(metrics.get(k), int | float)][:limit]
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in picked)
