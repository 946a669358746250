"""The retrain report (pipeline/report.py) from snapshot dicts, and what it assumes of the register stages.

No Prefect server, no MLflow store: the markdown is built from the dicts `report.snapshot` returns.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml

from pipeline import report

REPO = Path(__file__).resolve().parents[2]
FAMILIES = ("ganops-generator", "ganops-detector", "ganops-translator", "ganops-video-generator")


def _entry(version: int, metrics: dict[str, float], **tags: str) -> dict:
    return {
        "version": version,
        "run_id": f"{version:02d}" * 16,  # 32 characters; the report shows the first 12
        "experiment_id": "1",
        "metrics": metrics,
        "tags": {report.WEIGHTS_TAG: "ab" * 32, **tags, **{k: repr(v) for k, v in metrics.items()}},
        "created": "2025-01-01T00:00:00+00:00",
    }


GENERATOR_METRICS = {"fid_300_domain": 41.5, "fid_std_300_domain": 0.5, "kid_300_domain": 0.02}
SNAPSHOT = {
    "ganops-generator": {
        "champion": _entry(3, GENERATOR_METRICS, variant="dcgan"),
        "previous-champion": _entry(1, {"fid_300_domain": 80.25, "kid_300_domain": 0.07}, variant="dcgan"),
    },
    "ganops-detector": {
        "champion": _entry(2, {"tpr_at_fpr_1pct": 0.875, "auc": 0.97, "ece": 0.1}, detector="spectrum"),
    },
    "ganops-translator": {
        "champion": _entry(1, {"label_preservation": 0.625, "fid_domain_b": 12.0, "cycle_l1": 0.2}, variant="pix2pix"),
    },
    "ganops-video-generator": {
        "champion": _entry(4, {"fvd_domain": 123.4, "kvd_domain": 0.3}, variant="mocogan"),
        "challenger": _entry(5, {"fvd_domain": 150.0, "kvd_domain": 0.4}, variant="vgan"),
    },
}
PARENT = {"run_id": "f" * 32, "experiment_id": "1", "name": "retrain dashing-lemur"}
ROLLBACK = {"ganops-generator": "generator", "ganops-detector": "detector", "ganops-translator": "translator",
            "ganops-video-generator": "video"}  # fmt: skip
EXPECTED_METRIC = {
    "ganops-generator": "fid_300_domain = 41.5 (lower is better)",
    "ganops-detector": "tpr_at_fpr_1pct = 0.875 (higher is better)",
    "ganops-translator": "label_preservation = 0.625 (higher is better)",
    "ganops-video-generator": "fvd_domain = 123.4 (lower is better)",
}


def _row(markdown: str, name: str) -> str:
    [row] = [line for line in markdown.splitlines() if line.startswith(f"| `{name}` |")]
    return row


def _checked(name: str, decision: dict | None, fresh: bool) -> dict:
    champion = SNAPSHOT[name]["champion"]
    return {"model_name": name, "fresh": fresh, "decision": decision, "before": champion, "after": champion}


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _register_stages() -> dict[str, dict]:
    return {name: stage for name, stage in _stages().items() if name.startswith("register")}


def _outs(stage: dict) -> list[str]:
    return [next(iter(out)) if isinstance(out, dict) else out for out in stage.get("outs", [])]


# --- what the report assumes of the register stages and the CLI ---


def test_promotion_metrics_are_what_the_register_stages_rank_by():
    from ganops.detection.metrics import AUC
    from ganops.evaluation.metric_keys import fid_key, metric_key
    from ganops.stages import register_detector, register_video
    from ganops.translation.evaluation import FID, LABEL_PRESERVATION

    assert set(report.PROMOTION_METRICS) == set(FAMILIES)
    assert report.PROMOTION_METRICS["ganops-detector"] == (register_detector.PRIMARY_METRIC, AUC)
    assert report.PROMOTION_METRICS["ganops-translator"] == (LABEL_PRESERVATION, FID)
    assert report.PROMOTION_METRICS["ganops-video-generator"] == (register_video.PRIMARY_METRIC,)
    [generator] = report.PROMOTION_METRICS["ganops-generator"]  # a pattern: the key names the image count
    for num_images in (300, 2500, 50_000):
        assert fnmatchcase(fid_key(num_images), generator)
        assert not fnmatchcase(metric_key("fid_std", num_images), generator)
        assert not fnmatchcase(fid_key(num_images) + "_train", generator)


def test_every_family_has_a_rollback_target_and_a_full_report_the_pipeline_writes():
    from ganops.cli.main import ROLLBACK_TARGETS
    from ganops.config.params import Params

    cfg = Params()
    defaults = {
        cfg.registry.model_name: "generator",
        cfg.detector.model_name: "detector",
        cfg.translation.model_name: "translator",
        cfg.video.model_name: "video",
    }
    assert report.ROLLBACK_TARGETS == defaults == ROLLBACK
    assert set(report.ROLLBACK_TARGETS.values()) == set(ROLLBACK_TARGETS)
    outs = {out for stage in _stages().values() for out in _outs(stage)}
    assert set(report.FULL_REPORTS) == set(FAMILIES)
    assert set(report.FULL_REPORTS.values()) <= outs


def test_read_decisions_reads_the_decision_file_of_every_register_stage(tmp_path):
    decision_files = sorted(
        out for stage in _register_stages().values() for out in _outs(stage) if out.endswith(".json")
    )
    assert len(decision_files) == len(FAMILIES), decision_files
    for i, (name, rel) in enumerate(zip(FAMILIES, decision_files, strict=True)):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model_name": name, "version": i + 1, "alias": "champion", "reason": "r"}))
    (tmp_path / "models/not_a_decision_registered.json").write_text("[1, 2]")
    (tmp_path / "models/broken_registered.json").write_text("{")

    decisions = report.read_decisions(tmp_path)
    assert sorted(d["path"] for d in decisions) == decision_files
    assert sorted(d["model_name"] for d in decisions) == sorted(FAMILIES)
    assert all(d["mtime"] > 0 for d in decisions)


# --- markdown from a snapshot ---


def test_success_report_names_every_champion_with_its_promotion_metric_and_rollback(tmp_path):
    checked = [
        _checked("ganops-generator", {"version": 3, "alias": "champion", "reason": "no champion yet",
                                      "variant": "dcgan", "path": "models/registered.json"}, fresh=True),
        *[_checked(name, None, fresh=False) for name in FAMILIES[1:]],
    ]  # fmt: skip
    markdown = report.success_markdown("lemur (id)", {"ingested": [], "quarantined": []}, [], checked, SNAPSHOT,
                                       tmp_path, PARENT)  # fmt: skip

    for name in FAMILIES:
        row = _row(markdown, name)
        champion = SNAPSHOT[name]["champion"]
        assert f"| v{champion['version']} |" in row and EXPECTED_METRIC[name] in row, row
        assert f"`ganops rollback {ROLLBACK[name]}`" in row and champion["run_id"][:12] in row
        assert f"Undo a promotion: `ganops rollback {ROLLBACK[name]}` restores `previous-champion` of `{name}`" in (
            markdown
        )
    assert "| spectrum |" in _row(markdown, "ganops-detector")  # the detector's tag names its candidate
    assert "v3 → **champion**: no champion yet" in markdown
    # the parent MLflow run of the flow run, linked
    assert f"[`retrain dashing-lemur`]({report.run_url(tmp_path, '1', PARENT['run_id'])})" in markdown
    # tables show the promotion rule's metrics only: every number is in the full report
    assert "| fid_300_domain | 41.5 | 80.25 |" in markdown
    assert "| tpr_at_fpr_1pct | 0.875 |\n| auc | 0.97 |" in markdown
    assert "| label_preservation | 0.625 |\n| fid_domain_b | 12 |" in markdown
    assert "| fvd_domain | 123.4 | 150 |" in markdown
    for hidden in ("kid_300_domain", "fid_std_300_domain", "| ece", "cycle_l1", "kvd_domain"):
        assert hidden not in markdown, hidden


def test_champion_metric_falls_back_as_the_rule_does_and_unknown_models_show_everything(tmp_path):
    snapshot = {
        "ganops-translator": {"champion": _entry(2, {"fid_domain_b": 9.5}, variant="cyclegan")},  # no label metric
        "ganops-video-generator": {"challenger": _entry(1, {"fvd_domain": 3.0})},  # no champion yet
        "someone-elses-model": {"champion": _entry(7, {"b": 2.0, "a": 1.0})},
    }
    lines = "\n".join(report.champions_section(tmp_path, snapshot))
    assert "fid_domain_b = 9.5 (lower is better)" in _row(lines, "ganops-translator")
    assert _row(lines, "ganops-video-generator").startswith("| `ganops-video-generator` | unset | — |")
    assert "`ganops rollback video`" in _row(lines, "ganops-video-generator")
    assert "| v7 | — |" in _row(lines, "someone-elses-model")
    assert "`ganops rollback --help`" in _row(lines, "someone-elses-model")
    assert "| a | 1 |\n| b | 2 |" in report.model_table(
        tmp_path, "someone-elses-model", snapshot["someone-elses-model"], None
    )
    assert "no registered model yet" in "\n".join(report.champions_section(tmp_path, {}))


def test_full_report_is_linked_once_it_exists(tmp_path):
    table = report.model_table(tmp_path, "ganops-video-generator", SNAPSHOT["ganops-video-generator"], 5)
    assert "v5 (challenger, this run)" in table and "video_report.md" not in table
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/video_report.md").write_text("# video\n")
    table = report.model_table(tmp_path, "ganops-video-generator", SNAPSHOT["ganops-video-generator"], 5)
    assert "every number: `metrics/video_report.md`" in table


def test_failure_report_links_the_parent_run_and_says_the_champions_are_untouched(tmp_path):
    markdown = report.failure_markdown("lemur (id)", {"ingested": [], "quarantined": []}, [], "train_gan@dcgan",
                                       "stage failed", SNAPSHOT, SNAPSHOT, tmp_path, PARENT)  # fmt: skip
    assert "# ganops retrain: FAILED" in markdown and PARENT["run_id"] in markdown
    for name in FAMILIES:
        assert f"- `{name}`: champion v{SNAPSHOT[name]['champion']['version']} (untouched)" in markdown
    assert "MLflow parent run" not in report.failure_markdown(
        "x", {"ingested": [], "quarantined": []}, [], None, "e", {}, {}, tmp_path
    )


# --- the environment the stage subprocesses get ---


@pytest.fixture
def clean_pipeline_env(monkeypatch):
    from ganops.tracking import lineage

    for key in (lineage.PIPELINE_RUN_ENV, lineage.PIPELINE_LABEL_ENV, lineage.PIPELINE_KIND_ENV,
                "PREFECT__FLOW_RUN_ID", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_stage_environment_names_one_parent_run_per_flow_run(clean_pipeline_env):
    from ganops.orchestration.dvc_cli import BIN, env_with_bin
    from ganops.tracking import lineage

    clean_pipeline_env.setenv(lineage.PIPELINE_RUN_ENV, "an-outer-run")  # the flow's own key wins
    env = env_with_bin(lineage.pipeline_env("0b5e-flow-run-id", "retrain dashing-lemur"))
    assert env["PATH"].startswith(f"{BIN}") and env["PYTHONUNBUFFERED"] == "1"
    for key, value in env.items():  # what a stage process started with it sees
        clean_pipeline_env.setenv(key, value)
    execution = lineage.current("abc123")
    assert execution == lineage.Execution("0b5e-flow-run-id", "retrain", "retrain dashing-lemur")


def test_outside_a_flow_run_each_retrain_gets_its_own_key():
    from pipeline.retrain import pipeline_key_and_label

    first, second = pipeline_key_and_label(), pipeline_key_and_label()
    assert first[0].startswith("retrain:") and first[0] != second[0]
    assert first[1] == f"retrain {first[0].removeprefix('retrain:')[:8]}" and first[2] == ""
