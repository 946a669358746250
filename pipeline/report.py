"""Registry reads and the retrain report (a Prefect markdown artifact), no decisions of its own.

`snapshot` reads every registered model's aliases (champion / challenger / previous-champion) with
their metric tags and MLflow run ids; `read_decisions` reads what the register stages decided
(`models/**/*registered*.json`, written by `ganops.stages.register` and its detector twin).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from ganops.core import paths
from ganops.tracking.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, WEIGHTS_TAG

ARTIFACT_KEY = "ganops-retrain-report"
ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
ROLLBACK_HINT = "Undo a promotion: `ganops rollback generator` (or `detector`) restores `previous-champion`."
NOT_METRICS = {WEIGHTS_TAG, "git_commit", "dvc_data_md5", "variant", "mlflow.source.name"}
__all__ = ["CHAMPION", "snapshot", "read_decisions", "success_markdown", "failure_markdown", "publish"]


def _client(root: Path):
    """An MlflowClient on the workspace's store, or None while the local SQLite store does not exist."""
    uri = paths.tracking_uri(root)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _metrics(tags: dict[str, str]) -> dict[str, float]:
    out = {}
    for key, value in tags.items():
        if key in NOT_METRICS:
            continue
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def snapshot(root: Path) -> dict[str, dict[str, dict]]:
    """{model name: {alias: {version, run_id, experiment_id, metrics, tags, created}}} for every model."""
    client = _client(root)
    if client is None:
        return {}
    found: dict[str, dict[str, dict]] = {}
    for model in client.search_registered_models():
        found[model.name] = {}
        for alias, version in sorted((model.aliases or {}).items()):
            mv = client.get_model_version(model.name, version)
            experiment = None
            if mv.run_id:
                experiment = client.get_run(mv.run_id).info.experiment_id
            found[model.name][alias] = {
                "version": int(mv.version),
                "run_id": mv.run_id,
                "experiment_id": experiment,
                "metrics": _metrics(mv.tags),
                "tags": dict(mv.tags),
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
            }
    return found


def read_decisions(root: Path) -> list[dict]:
    """Each register stage's last decision, with `path` and `mtime` (seconds since the epoch) added."""
    decisions = []
    models = Path(root) / "models"
    for path in sorted(models.rglob("*registered*.json")) if models.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "model_name" in data:
            decisions.append({**data, "path": str(path.relative_to(root)), "mtime": path.stat().st_mtime})
    return decisions


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _run_ref(root: Path, entry: dict) -> str:
    uri = paths.tracking_uri(root)
    if uri.startswith(("http://", "https://")) and entry.get("experiment_id"):
        url = f"{uri.rstrip('/')}/#/experiments/{entry['experiment_id']}/runs/{entry['run_id']}"
        return f"[`{entry['run_id'][:12]}`]({url})"
    return f"`{entry['run_id']}`" if entry.get("run_id") else "—"


def model_table(root: Path, name: str, aliases: dict[str, dict], candidate: int | None) -> str:
    """Champion, challenger, previous champion and this run's candidate side by side (a column each)."""
    columns: dict[int, dict] = {}
    labels: dict[int, list[str]] = {}
    for alias in ALIASES:
        if alias in aliases:
            entry = aliases[alias]
            columns.setdefault(entry["version"], entry)
            labels.setdefault(entry["version"], []).append(alias)
    if candidate is not None and candidate in labels:
        labels[candidate].append("this run")
    if not columns:
        return "_no version holds an alias yet_\n"
    versions = sorted(columns, key=lambda v: (CHAMPION not in labels[v], -v))
    head = "| | " + " | ".join(f"v{v} ({', '.join(labels[v])})" for v in versions) + " |"
    rows = [head, "|---" * (len(versions) + 1) + "|"]
    keys = sorted({k for v in versions for k in columns[v]["metrics"]})
    for key in keys:
        rows.append(f"| {key} | " + " | ".join(_fmt(columns[v]["metrics"].get(key)) for v in versions) + " |")
    rows.append("| variant | " + " | ".join(columns[v]["tags"].get("variant", "—") for v in versions) + " |")
    rows.append("| MLflow run | " + " | ".join(_run_ref(root, columns[v]) for v in versions) + " |")
    rows.append("| registered | " + " | ".join(columns[v]["created"] for v in versions) + " |")
    rows.append(
        "| weights sha256 | "
        + " | ".join(f"`{columns[v]['tags'].get(WEIGHTS_TAG, '')[:12]}`" for v in versions)
        + " |"
    )
    uri = paths.tracking_uri(root)
    link = (
        f"[{name}]({uri.rstrip('/')}/#/models/{name})" if uri.startswith("http") else f"`{name}` in `{uri}`"
    )
    return "\n".join(rows) + f"\n\nRegistry: {link}\n"


def _ingest_section(ingested: dict) -> list[str]:
    lines = [
        "## Ingest",
        f"{len(ingested['ingested'])} file(s) moved into `data/raw/`, "
        f"{len(ingested['quarantined'])} quarantined.",
    ]
    if ingested["quarantined"]:
        lines += ["", "| file | moved to | reason |", "|---|---|---|"]
        lines += [
            f"| `{q['source']}` | `{q['dest']}` | {q['reason']} |" for q in ingested["quarantined"][:50]
        ]
    return lines + [""]


def _stage_section(stages: list[dict], failed_stage: str | None = None) -> list[str]:
    lines = ["## Stages (`dvc repro -s`)", "| stage | result | seconds |", "|---|---|---|"]
    lines += [f"| `{s['stage']}` | {'ran' if s['ran'] else 'up to date'} | {s['seconds']} |" for s in stages]
    if failed_stage:
        lines.append(f"| `{failed_stage}` | **failed** | |")
    return lines + [""]


def success_markdown(
    label: str, ingested: dict, stages: list[dict], checked: list[dict], after: dict, root: Path
) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = ["# ganops retrain: success", f"{label} · {now} · workspace `{root}`", ""]
    lines += _ingest_section(ingested) + _stage_section(stages)
    for item in checked:
        name, decision = item["model_name"], item["decision"]
        lines.append(f"## {name}")
        if decision and item["fresh"]:
            lines.append(
                f"**Decision:** v{decision['version']} → **{decision['alias']}**: {decision['reason']} "
                f"(variant `{decision.get('variant', '?')}`; `{decision['path']}`)"
            )
        else:
            champ = item["after"]
            lines.append(
                "**Decision:** no new candidate (the register stage was up to date); champion stays "
                + (f"v{champ['version']}" if champ else "unset")
            )
        candidate = decision["version"] if decision and item["fresh"] else None
        lines += ["", model_table(root, name, after.get(name, {}), candidate), ROLLBACK_HINT, ""]
    return "\n".join(lines)


def failure_markdown(
    label: str,
    ingested: dict,
    stages: list[dict],
    failed_stage: str | None,
    error: str,
    before: dict,
    after: dict,
    root: Path,
) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = ["# ganops retrain: FAILED", f"{label} · {now} · workspace `{root}`", ""]
    lines += ["## Error", "```", error, "```", ""]
    lines += _ingest_section(ingested) + _stage_section(stages, failed_stage)
    lines.append("## Champions (a failed run registers nothing)")
    for name in sorted(set(before) | set(after)):
        was = (before.get(name) or {}).get(CHAMPION)
        now_ = (after.get(name) or {}).get(CHAMPION)
        same = (was and was["version"]) == (now_ and now_["version"])
        lines.append(
            f"- `{name}`: champion {'v' + str(now_['version']) if now_ else 'unset'}"
            + (
                " (untouched)"
                if same
                else f" (**changed** from {'v' + str(was['version']) if was else 'unset'})"
            )
        )
        lines += ["", model_table(root, name, after.get(name, {}), None)]
    return "\n".join(lines)


def publish(markdown: str) -> None:
    """The report as a markdown artifact of the current flow run (key `ganops-retrain-report`)."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=ARTIFACT_KEY, description="ganops retrain report")
