"""Serve the `retrain` flow on the cron schedule in `params.yaml` (`make serve`).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m pipeline.serve --repo .

`schedule: {cron: "0 3 * * 1", timezone: UTC}` in params.yaml sets when it runs; without that
section the flow runs weekly (Mondays 03:00 UTC). Schedules need a real Prefect server (`prefect
server start`); the ephemeral API that a plain flow call starts cannot run them. For workers on other
machines, `prefect.yaml` declares the same flow for `prefect deploy` to a process work pool.
"""

from __future__ import annotations

import argparse
import time
import urllib.request
from pathlib import Path

import yaml

DEFAULT_CRON = "0 3 * * 1"  # weekly: Monday 03:00
DEFAULT_TIMEZONE = "UTC"
DEPLOYMENT = "local"  # served deployment: retrain/local (prefect.yaml declares retrain/pool)


def read_schedule(params_path: Path) -> tuple[str, str]:
    """(cron, timezone) from the `schedule` section of `params_path`; weekly UTC if it is absent."""
    from prefect.client.schemas.schedules import CronSchedule

    params_path = Path(params_path)
    raw = yaml.safe_load(params_path.read_text()) if params_path.is_file() else None
    section = (raw or {}).get("schedule") if isinstance(raw, dict) else None
    if section is None:
        return DEFAULT_CRON, DEFAULT_TIMEZONE
    if not isinstance(section, dict) or set(section) - {"cron", "timezone"}:
        raise ValueError(f'{params_path}: schedule must be a mapping {{cron: "0 3 * * 1", timezone: UTC}}')
    cron = str(section.get("cron", DEFAULT_CRON))
    timezone = str(section.get("timezone", DEFAULT_TIMEZONE))
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise ValueError(
            f"{params_path}: schedule: {cron!r} / {timezone!r} is not a valid cron string and IANA timezone "
            f"({first[-1] if first else exc})"
        ) from None
    return cron, timezone


def build_deployment(root: Path, params_path: Path | None = None):
    """The `retrain/local` deployment: the flow, the workspace as its `repo`, the cron from params."""
    from prefect.schedules import Cron

    from pipeline.retrain import retrain

    root = Path(root).resolve()
    cron, timezone = read_schedule(params_path or root / "params.yaml")
    return retrain.to_deployment(
        name=DEPLOYMENT,
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"repo": str(root)},
        concurrency_limit=1,  # Prefect-side guard; the workspace lock is the hard one
        description=f"ganops retrain of {root} on cron {cron!r} ({timezone})",
        tags=["ganops"],
    )


def wait_for_server(api_url: str, timeout_s: float) -> None:
    """Poll `{api_url}/health` until the Prefect server answers (make serve starts both at once)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no Prefect server at {api_url} after {timeout_s:.0f}s; start one with "
                    "`prefect server start --host 127.0.0.1` or set PREFECT_API_URL"
                ) from None
            time.sleep(1)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - long-running entry point
    parser = argparse.ArgumentParser(description="Serve the ganops retrain flow on its cron schedule.")
    parser.add_argument("--repo", default=".", help="the ganops workspace (default: current folder)")
    parser.add_argument("--wait-for-server", type=float, default=0.0, help="seconds to wait for the API")
    args = parser.parse_args(argv)
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise SystemExit("PREFECT_API_URL is not set: schedules need a running `prefect server start`")
    if args.wait_for_server:
        wait_for_server(api_url, args.wait_for_server)
    serve(build_deployment(Path(args.repo)))


if __name__ == "__main__":
    main()
