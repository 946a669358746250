"""Hard stops under a real `dvc repro`: a stage killed with SIGKILL, or failing, keeps its last good outputs.

One git+DVC repo at tiny size with one variant (seed_mlp) is reproduced once for the module, only the
targets `register` and `generate_fakes@seed_mlp` and what they need. Each kill test forces one stage to
rerun in its own process group and kills the whole group with SIGKILL at the stage's most fragile
moment: the audit event `ganops.atomic.replace` that atomic.py raises just before it replaces an output.
The new outputs are then complete in a temp sibling and the old ones are still in place. A
`sitecustomize` hook on the stage's PYTHONPATH freezes the stage at that event (SIGSTOP) and drops a
marker file; the test waits for the marker (an event, not a timer), so the kill lands there every time
however slow the machine.
"""

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import BIN, TINY, make_repo, merge, run

pytestmark = pytest.mark.integration

DVC = str(BIN / "dvc")
TARGETS = ("register", "generate_fakes@seed_mlp")
UP_TO_DATE = "Data and pipelines are up to date."
EVENT_DEADLINE_S = 300  # failure guard only: the kill itself waits for the stage's event


class Killed(NamedTuple):
    tag: str  # the stage's `ganops.stage` MLflow tag
    outputs: tuple[str, ...]  # what the kill must leave byte-identical
    run_at_kill: str  # its MLflow run's status at the kill (every stage writes its outputs inside its run)
    # Also rerun it for real afterwards. One stage is enough: removing a dead writer's temp (atomic.py) and
    # ending its RUNNING run as KILLED (tracking.runs) is the same code for every stage, and each real run
    # costs a stage start-up (prepare's also reloads MNIST).
    rerun: bool = False


KILLED_STAGES = {
    "prepare": Killed("prepare", ("data/prepared",), "RUNNING"),
    "generate_fakes@seed_mlp": Killed("generate_fakes", ("data/fakes/seed_mlp",), "RUNNING", rerun=True),
    "register": Killed("register", ("models/registered.json", "metrics/report.md"), "RUNNING"),
}

FREEZE_HOOK = textwrap.dedent(
    '''
    """Freeze this process just before atomic.py replaces a path in GANOPS_TEST_KILL_AT (test_kill_stages.py)."""
    import json, os, signal, sys

    _targets = {os.path.realpath(p) for p in os.environ.get("GANOPS_TEST_KILL_AT", "").split(os.pathsep) if p}


    def _freeze_before_replace(event, args):
        if event == "ganops.atomic.replace" and os.path.realpath(args[1]) in _targets:
            marker = os.environ["GANOPS_TEST_KILL_MARKER"]
            with open(marker + ".part", "w") as f:
                json.dump({"pid": os.getpid(), "tmp": os.path.realpath(args[0]), "final": os.path.realpath(args[1])}, f)
            os.replace(marker + ".part", marker)
            os.kill(os.getpid(), signal.SIGSTOP)


    if _targets:
        sys.addaudithook(_freeze_before_replace)
    '''
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """Tiny repo, one variant (so `register` needs one train_gan / evaluate_gan), TARGETS reproduced."""
    seed_mlp = {**TINY["gan"]["variants"]["seed_mlp"], "num_steps": 10, "checkpoint_every": 10}
    tinier = {"evaluator": {"epochs": 1}, "gan": {"variants": {"seed_mlp": seed_mlp}}}  # what is killed is I/O
    path = make_repo(tmp_path_factory.mktemp("kill") / "repo", merge(TINY, tinier)).resolve()
    run([str(BIN / "ganops"), "warm", DVC, "repro", *TARGETS], path, timeout=900)  # the kills below: cold stages
    return path


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 of every file at `path` (a file, or a folder walked with hidden files), by relative name."""
    if not path.exists():
        return {}
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def registry_state(repo: Path) -> dict[str, list]:
    """Every alias and model version in the repo's MLflow registry (SQLite, read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{repo / 'mlflow.db'}?mode=ro", uri=True)) as db:
        return {
            "aliases": db.execute("SELECT name, alias, version FROM registered_model_aliases ORDER BY 1, 2").fetchall(),
            "versions": db.execute("SELECT name, version FROM model_versions ORDER BY 1, 2").fetchall(),
        }


def run_status(repo: Path, pid: int, stage_tag: str) -> str | None:
    """The MLflow status of the `stage_tag` run that process `pid` started."""
    query = (
        "SELECT r.status FROM runs r JOIN tags p ON p.run_uuid = r.run_uuid AND p.key = 'ganops.pid' "
        "JOIN tags s ON s.run_uuid = r.run_uuid AND s.key = 'ganops.stage' WHERE p.value = ? AND s.value = ?"
    )
    with contextlib.closing(sqlite3.connect(f"file:{repo / 'mlflow.db'}?mode=ro", uri=True)) as db:
        row = db.execute(query, (str(pid), stage_tag)).fetchone()
    return row and row[0]


def temp_siblings(repo: Path, outputs: tuple[str, ...]) -> list[str]:
    """atomic.py's temp names (`.NAME.*`) beside each output."""
    found = []
    for rel in outputs:
        out = repo / rel
        found += sorted(str(p.relative_to(repo)) for p in out.parent.glob(f".{out.name}.*"))
    return found


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has died; only its exit status is left


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll until `condition()` holds; fail if `proc` exits first or the guard deadline passes."""
    deadline = time.monotonic() + EVENT_DEADLINE_S
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}) before {what}:\n{log.read_text() if log else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {EVENT_DEADLINE_S} s:\n{log.read_text() if log else ''}")
        time.sleep(0.05)  # poll interval


def kill_at_replace(repo: Path, stage: str, outputs: tuple[str, ...], tmp_path: Path) -> dict:
    """Run `dvc repro -f -s STAGE`, freeze it at its first output replacement, SIGKILL its process group.

    Returns the marker the frozen stage wrote: its pid, the temp path and the output it was about to replace.
    """
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook/sitecustomize.py").write_text(FREEZE_HOOK)
    marker, log = tmp_path / "frozen.json", tmp_path / "dvc.log"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(tmp_path / "hook"),
        "GANOPS_TEST_KILL_AT": os.pathsep.join(str(repo / rel) for rel in outputs),
        "GANOPS_TEST_KILL_MARKER": str(marker),
        "DVC_NO_ANALYTICS": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("w") as out:
        proc = subprocess.Popen([DVC, "repro", "-f", "-s", stage], cwd=repo, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    frozen = None
    try:
        wait_for(marker.exists, f"{stage} about to replace {outputs}", proc, log)
        frozen = json.loads(marker.read_text())
        os.killpg(proc.pid, signal.SIGKILL)  # dvc, the shell, the stage: the whole group
        assert proc.wait(timeout=60) == -signal.SIGKILL
        wait_for(lambda: process_gone(frozen["pid"]), f"exit of the frozen stage (pid {frozen['pid']})")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if frozen is not None and not process_gone(frozen["pid"]):
            os.kill(frozen["pid"], signal.SIGKILL)  # it left the group: do not leave it stopped
    return frozen


@pytest.mark.parametrize("stage", list(KILLED_STAGES))
def test_a_stage_killed_mid_replace_keeps_its_last_good_outputs(repo, stage, tmp_path):
    killed = KILLED_STAGES[stage]
    before = {rel: file_hashes(repo / rel) for rel in killed.outputs}
    assert all(before.values()), before
    registry, lock = registry_state(repo), (repo / "dvc.lock").read_text()

    frozen = kill_at_replace(repo, stage, killed.outputs, tmp_path)

    # the kill landed mid-stage: the new version was complete in a temp sibling, not yet in place
    assert Path(frozen["final"]) in [repo / rel for rel in killed.outputs]
    assert Path(frozen["tmp"]).exists() and Path(frozen["tmp"]).parent == Path(frozen["final"]).parent
    assert run_status(repo, frozen["pid"], killed.tag) == killed.run_at_kill
    # ... and nothing the previous run left changed: outputs byte for byte, registry, dvc.lock
    assert {rel: file_hashes(repo / rel) for rel in killed.outputs} == before
    assert registry_state(repo) == registry
    assert (repo / "dvc.lock").read_text() == lock
    # the only debris is the interrupted temp, beside the outputs under a name .dvcignore hides (`.*.tmp`)
    debris = temp_siblings(repo, killed.outputs)
    assert debris == [str(Path(frozen["tmp"]).relative_to(repo))]
    assert Path(debris[0]).name.startswith(".") and debris[0].endswith(".tmp")

    # DVC takes the kept outputs as the last good ones: nothing to rerun, and no stale lock in the way
    again = run([DVC, "repro", "-s", stage], repo)
    assert "Running stage" not in again.stdout, again.stdout
    if killed.rerun:  # a real rerun removes the dead writer's temp and ends its RUNNING run as KILLED
        run([DVC, "repro", "-f", "-s", stage], repo)
        assert temp_siblings(repo, killed.outputs) == []
        assert run_status(repo, frozen["pid"], killed.tag) == "KILLED"
        assert {rel: file_hashes(repo / rel) for rel in killed.outputs} == before  # deterministic by seed
        assert registry_state(repo) == registry
    assert UP_TO_DATE in run([DVC, "status", "--with-deps", *TARGETS], repo).stdout


def test_a_failed_prepare_names_the_bad_file_and_keeps_data_prepared(repo):
    before, lock = file_hashes(repo / "data/prepared"), (repo / "dvc.lock").read_text()
    debris = temp_siblings(repo, ("data/prepared",))  # what an earlier kill left, if that test ran
    params_text = (repo / "params.yaml").read_text()
    params = yaml.safe_load(params_text)
    params["data"].update(source="folder:data/raw", on_bad_image="fail", max_images=None)
    raw = repo / "data/raw"
    rng = np.random.default_rng(0)
    written = [raw / f"good_{i}.png" for i in range(3)] + [raw / "broken.png"]
    try:
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for path in written[:-1]:
            Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(path)
        written[-1].write_bytes(b"\x89PNG\r\n\x1a\n" + b"not the rest of a png" * 8)
        result = run([DVC, "repro", "-s", "prepare"], repo, check=False)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "broken.png" in output and "on_bad_image" in output, output
        assert "good_0.png" not in output, output
        assert file_hashes(repo / "data/prepared") == before
        assert temp_siblings(repo, ("data/prepared",)) == debris  # it failed before writing anything
        assert (repo / "dvc.lock").read_text() == lock
    finally:
        (repo / "params.yaml").write_text(params_text)
        for path in written:
            path.unlink(missing_ok=True)
