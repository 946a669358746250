"""Registry reads and the retrain report (a Prefect markdown artifact), no decisions of its own.

`snapshot` reads every registered model's aliases (champion / challenger / previous-champion) with
their metric tags and MLflow run ids; `read_decisions` reads what the four register stages decided
(`models/**/*registered*.json`: `registered.json`, `detector_registered.json`,
`translator_registered.json`, `video_registered.json`); `pipeline_run` finds the flow run's parent
MLflow run (`ganops.tracking.lineage`), under which every stage run of the flow sits.

Every MLflow run id links to the MLflow UI: the tracking server's own address when MLFLOW_TRACKING_URI
is http(s), else GANOPS_MLFLOW_UI or the `make ui` address (http://127.0.0.1:5000), in the
model-training view. The header names the git commit and the parent run; the stage table says which
stages changed their outputs; the champions table gives each family's champion, the metric its
promotion rule ranks by, and the `ganops rollback` command that undoes a promotion. Each model's table
shows only the metrics its promotion rule reads, plus a link to its full report.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

from ganops.core import paths
from ganops.evaluation.metric_keys import lower_is_better
from ganops.tracking import lineage
from ganops.tracking.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, WEIGHTS_TAG

ARTIFACT_KEY = "ganops-retrain-report"
ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
NOT_METRICS = {WEIGHTS_TAG, "git_commit", "dvc_data_md5", "variant", "mlflow.source.name"}
LOCAL_UI = "http://127.0.0.1:5000"  # where `make ui` serves the local store
UI_ENV = "GANOPS_MLFLOW_UI"
# What each family's promotion rule (its register stage) reads, the metric it ranks by first; fnmatch
# patterns, as the generator's key names its image count (`fid_5k_domain`, metric_keys.fid_key). Tables
# show only these; every number is in the family's full report. Keys as in the register stages:
PROMOTION_METRICS = {
    "ganops-generator": ("fid_[0-9]*_domain",),  # register.py: fid_key(evaluate.num_images), lower is better
    "ganops-detector": ("tpr_at_fpr_1pct", "auc"),  # register_detector.py: PRIMARY_METRIC, ties by AUC
    # register_translator.py: label preservation, ties by FID; FID alone when a variant lacks the former
    "ganops-translator": ("label_preservation", "fid_domain_b"),
    "ganops-video-generator": ("fvd_domain",),  # register_video.py: PRIMARY_METRIC, lower is better
}
FULL_REPORTS = {
    "ganops-generator": "metrics/report.md",
    "ganops-detector": "metrics/detector_report.md",
    "ganops-translator": "metrics/translation_report.md",
    "ganops-video-generator": "metrics/video_report.md",
}
# `ganops rollback TARGET` (cli/main.py ROLLBACK_TARGETS) restores `previous-champion` of each model.
ROLLBACK_TARGETS = {
    "ganops-generator": "generator",
    "ganops-detector": "detector",
    "ganops-translator": "translator",
    "ganops-video-generator": "video",
}
ITEM_TAGS = ("variant", "detector")  # which candidate a version is (the detector's tag names it)
__all__ = [
    "CHAMPION",
    "snapshot",
    "read_decisions",
    "pipeline_run",
    "success_markdown",
    "failure_markdown",
    "publish",
]


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
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(timespec="seconds"),
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


def pipeline_run(root: Path, key: str) -> dict | None:
    """{run_id, experiment_id, name} of the parent MLflow run with pipeline key `key`, or None.

    `ganops.tracking.lineage` creates it with the first stage run of the execution and tags it
    `KEY_TAG = key` (the retrain flow's key: its flow run id, `lineage.pipeline_env`); the oldest wins.
    """
    client = _client(root)
    if client is None:
        return None
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return None
    found = lineage.find_parent(client, key, experiments)
    if found is None:
        return None
    info = found.info
    return {"run_id": info.run_id, "experiment_id": info.experiment_id, "name": info.run_name}


def promotion_metric(name: str, metrics: dict[str, float]) -> str | None:
    """The metric `name`'s promotion rule ranks `metrics` (one version's) by, or None (unknown model)."""
    for pattern in PROMOTION_METRICS.get(name, ()):
        matched = sorted(key for key in metrics if fnmatchcase(key, pattern))
        if matched:
            return matched[0]
    return None


def _shown_metrics(name: str, keys: set[str]) -> list[str]:
    """The promotion rule's metrics among `keys`, in its order (every key for an unknown model)."""
    if name not in PROMOTION_METRICS:
        return sorted(keys)
    return [key for pattern in PROMOTION_METRICS[name] for key in sorted(keys) if fnmatchcase(key, pattern)]


def rollback_hint(name: str) -> str:
    target = ROLLBACK_TARGETS.get(name)
    if target is None:
        return f"Undo a promotion of `{name}`: see `ganops rollback --help`."
    return f"Undo a promotion: `ganops rollback {target}` restores `{PREVIOUS_CHAMPION}` of `{name}`."


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def ui_base(root: Path) -> str:
    """The MLflow UI's address: the tracking server's, else GANOPS_MLFLOW_UI, else `make ui`'s."""
    uri = paths.tracking_uri(root)
    if uri.startswith(("http://", "https://")):
        return uri.rstrip("/")
    return os.environ.get(UI_ENV, LOCAL_UI).rstrip("/")


def run_url(root: Path, experiment_id: str, run_id: str) -> str:
    return f"{ui_base(root)}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def _item(entry: dict) -> str:
    return next((entry["tags"][t] for t in ITEM_TAGS if entry["tags"].get(t)), "—")


def _run_ref(root: Path, entry: dict) -> str:
    if not entry.get("run_id"):
        return "—"
    if not entry.get("experiment_id"):
        return f"`{entry['run_id']}`"
    return f"[`{entry['run_id'][:12]}`]({run_url(root, entry['experiment_id'], entry['run_id'])})"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


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
    for key in _shown_metrics(name, {k for v in versions for k in columns[v]["metrics"]}):
        rows.append(f"| {key} | " + " | ".join(_fmt(columns[v]["metrics"].get(key)) for v in versions) + " |")
    rows.append("| variant | " + " | ".join(_item(columns[v]) for v in versions) + " |")
    rows.append("| MLflow run | " + " | ".join(_run_ref(root, columns[v]) for v in versions) + " |")
    rows.append("| registered | " + " | ".join(columns[v]["created"] for v in versions) + " |")
    rows.append(
        "| weights sha256 | " + " | ".join(f"`{columns[v]['tags'].get(WEIGHTS_TAG, '')[:12]}`" for v in versions) + " |"
    )
    link = f"[{name}]({ui_base(root)}/#/models/{name})"
    full = FULL_REPORTS.get(name)
    more = f"; every number: `{full}`" if full and (Path(root) / full).is_file() else ""
    return "\n".join(rows) + f"\n\nRegistry: {link} (store `{paths.tracking_uri(root)}`){more}\n"


def _ingest_section(ingested: dict) -> list[str]:
    lines = [
        "## Ingest",
        f"{len(ingested['ingested'])} file(s) moved into `data/raw/`, {len(ingested['quarantined'])} quarantined.",
    ]
    if ingested["quarantined"]:
        lines += ["", "| file | moved to | reason |", "|---|---|---|"]
        lines += [f"| `{q['source']}` | `{q['dest']}` | {q['reason']} |" for q in ingested["quarantined"][:50]]
    return lines + [""]


def _stage_section(stages: list[dict], failed_stage: str | None = None) -> list[str]:
    changed = [s["stage"] for s in stages if s["ran"]]
    lines = [
        "## Stages (`dvc repro -s`)",
        "Changed outputs: " + (", ".join(f"`{name}`" for name in changed) or "none (all up to date)"),
        "",
        "| stage | result | seconds |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{s['stage']}` | {'ran: outputs changed' if s['ran'] else 'up to date'} | {s['seconds']} |" for s in stages
    ]
    if failed_stage:
        lines.append(f"| `{failed_stage}` | **failed** | |")
    return lines + [""]


def champions_section(root: Path, models: dict[str, dict[str, dict]]) -> list[str]:
    """One row per registered model (`models`: a snapshot): its champion, the metric the promotion rule
    ranks by with the champion's value, and the command that undoes a promotion."""
    lines = [
        "## Champions",
        "| model | champion | promotion metric | variant | MLflow run | undo a promotion |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(models):
        champ = models[name].get(CHAMPION)
        target = ROLLBACK_TARGETS.get(name)
        undo = f"`ganops rollback {target}`" if target else "`ganops rollback --help`"
        if not champ:
            lines.append(f"| `{name}` | unset | — | — | — | {undo} |")
            continue
        key = promotion_metric(name, champ["metrics"])
        metric = "—"
        if key is not None:
            better = "lower" if lower_is_better(key) else "higher"
            metric = f"{key} = {_fmt(champ['metrics'][key])} ({better} is better)"
        lines.append(
            f"| `{name}` | v{champ['version']} | {metric} | {_item(champ)} | {_run_ref(root, champ)} | {undo} |"
        )
    if not models:
        lines.append("| _no registered model yet_ | | | | | |")
    return lines + [""]


def _header(title: str, label: str, root: Path, parent: dict | None) -> list[str]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ui = f"{ui_base(root)}/#/?workflowType=machine_learning"
    lines = [title, f"{label} · {now} · workspace `{root}` · git `{git_commit(root)[:12]}` · [MLflow UI]({ui})", ""]
    if parent:
        link = f"[`{parent['name']}`]({run_url(root, parent['experiment_id'], parent['run_id'])})"
        lines += [
            f"MLflow parent run: {link} (`{parent['run_id']}`): every stage run of this flow run is its child.",
            "",
        ]
    return lines


def success_markdown(
    label: str,
    ingested: dict,
    stages: list[dict],
    checked: list[dict],
    after: dict,
    root: Path,
    parent: dict | None = None,
) -> str:
    """`parent`: the flow run's parent MLflow run (`pipeline_run`), None when no stage logged one."""
    lines = _header("# ganops retrain: success", label, root, parent)
    lines += champions_section(root, after) + _ingest_section(ingested) + _stage_section(stages)
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
        lines += ["", model_table(root, name, after.get(name, {}), candidate), rollback_hint(name), ""]
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
    parent: dict | None = None,
) -> str:
    lines = _header("# ganops retrain: FAILED", label, root, parent)
    lines += ["## Error", "```", error, "```", ""]
    lines += _ingest_section(ingested) + _stage_section(stages, failed_stage)
    lines.append("## Champions (a failed run registers nothing)")
    for name in sorted(set(before) | set(after)):
        was = (before.get(name) or {}).get(CHAMPION)
        now_ = (after.get(name) or {}).get(CHAMPION)
        same = (was and was["version"]) == (now_ and now_["version"])
        lines.append(
            f"- `{name}`: champion {'v' + str(now_['version']) if now_ else 'unset'}"
            + (" (untouched)" if same else f" (**changed** from {'v' + str(was['version']) if was else 'unset'})")
        )
        lines += ["", model_table(root, name, after.get(name, {}), None)]
    return "\n".join(lines)


def publish(markdown: str) -> None:
    """The report as a markdown artifact of the current flow run (key `ganops-retrain-report`)."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=ARTIFACT_KEY, description="ganops retrain report")
