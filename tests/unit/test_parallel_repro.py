"""`ganops repro` (orchestration/parallel.py) on a real DVC repo of small shell stages.

Concurrency is shown without a clock: stages `left` and `right` each wait for the other's start
marker, so they both finish only when they run at the same time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ganops.orchestration.dag import StageGraph
from ganops.orchestration.parallel import ReproFailed, reproduce

BIN = Path(sys.executable).parent
# `stage.py NAME WAIT_FOR READS...`: touch NAME.started, wait (up to 120 s) for WAIT_FOR.started
# ("-": none), then write NAME.txt = NAME(contents of READS).
STAGE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    name, wait_for, *reads = sys.argv[1:]
    Path(name + ".started").touch()
    deadline = time.monotonic() + 120
    while wait_for != "-" and not Path(wait_for + ".started").exists():
        if time.monotonic() > deadline:
            sys.exit(f"{name}: {wait_for} never started beside me")
        time.sleep(0.05)
    if Path(name + ".fail").exists():
        sys.exit(f"error: {name} was told to fail")
    Path(name + ".txt").write_text(name + "(" + " ".join(Path(r).read_text() for r in reads) + ")")
    """
)


def _stage(name: str, wait_for: str = "-", reads: tuple[str, ...] = ()) -> str:
    deps = "".join(f"      - {d}\n" for d in ("stage.py", *reads))
    cmd = " ".join([sys.executable, "stage.py", name, wait_for, *reads])
    return f"  {name}:\n    cmd: {cmd}\n    deps:\n{deps}    outs: [{name}.txt]\n"


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    """prep -> (left, right: run together) -> join; lone stands apart."""
    (tmp_path / "stage.py").write_text(STAGE_SCRIPT)
    (tmp_path / "prep.in").write_text("1")
    stages = [
        _stage("prep", "-", ("prep.in",)),
        _stage("left", "right", ("prep.txt",)),
        _stage("right", "left", ("prep.txt",)),
        _stage("join", "-", ("left.txt", "right.txt")),
        _stage("lone"),
    ]
    (tmp_path / "dvc.yaml").write_text("stages:\n" + "".join(stages))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def _dvc_status(repo: Path) -> str:
    return subprocess.run([str(BIN / "dvc"), "status"], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_independent_stages_run_together_and_dvc_records_every_stage(dvc_repo):
    lines: list[str] = []
    results = reproduce(dvc_repo, jobs=2, echo=lines.append)
    ran = [r.stage for r in results if r.ran]
    assert sorted(ran) == ["join", "left", "lone", "prep", "right"]
    assert ran.index("prep") < min(ran.index("left"), ran.index("right")) < ran.index("join")
    assert (dvc_repo / "join.txt").read_text() == "join(left(prep(1)) right(prep(1)))"
    assert "Data and pipelines are up to date" in _dvc_status(dvc_repo)  # dvc.lock has every stage
    assert any(line.startswith("started") and "also running" in line for line in lines)

    again = reproduce(dvc_repo, jobs=2, echo=lines.append)  # one `dvc status` answers for all of them
    assert [r.up_to_date for r in again] == ["dvc status"] * 5


def test_a_changed_dependency_reruns_that_stage_and_its_downstream_only(dvc_repo):
    reproduce(dvc_repo, jobs=2, echo=lambda line: None)
    (dvc_repo / "prep.in").write_text("2")
    results = {r.stage: r for r in reproduce(dvc_repo, jobs=2, echo=lambda line: None)}
    assert {name for name, r in results.items() if r.ran} == {"prep", "left", "right", "join"}
    assert results["lone"].up_to_date == "dvc status"
    assert (dvc_repo / "join.txt").read_text() == "join(left(prep(2)) right(prep(2)))"

    (dvc_repo / "prep.txt").unlink()  # DVC puts it back from its cache; downstream stays as it is
    results = {r.stage: r for r in reproduce(dvc_repo, jobs=2, echo=lambda line: None)}
    assert results["prep"].restored and not any(r.ran for r in results.values())
    assert results["left"].up_to_date == "dvc repro"  # asked, since its upstream's outputs were rewritten
    assert (dvc_repo / "prep.txt").read_text() == "prep(2)"


def test_targets_bring_only_their_upstream_up_to_date(dvc_repo):
    results = reproduce(dvc_repo, jobs=2, targets=["lone"], echo=lambda line: None)
    assert [r.stage for r in results] == ["lone"]
    assert not (dvc_repo / "prep.txt").exists()
    with pytest.raises(Exception, match="no stage named nope"):
        reproduce(dvc_repo, jobs=2, targets=["nope"], echo=lambda line: None)


def test_a_failed_stage_starts_nothing_downstream_and_names_its_error(dvc_repo):
    (dvc_repo / "right.fail").touch()
    lines: list[str] = []
    with pytest.raises(ReproFailed) as failed:
        reproduce(dvc_repo, jobs=2, echo=lines.append)
    assert failed.value.stage == "right"
    assert "error: right was told to fail" in str(failed.value.error)
    assert failed.value.not_started == ["join"]
    assert "left" in {r.stage for r in failed.value.done}  # the stage running beside it finished
    assert "FAILED: right" in lines
    status = _dvc_status(dvc_repo)
    assert "right:" in status and "left:" not in status and "prep:" not in status  # good stages recorded


def test_the_cli_runs_the_pipeline_and_says_when_it_is_up_to_date(dvc_repo):
    ganops = [str(BIN / "ganops"), "repro", "--jobs", "2"]
    first = subprocess.run(ganops, cwd=dvc_repo, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "5 stage(s) ran, 0 restored from the DVC cache, 0 up to date" in first.stdout
    second = subprocess.run(ganops, cwd=dvc_repo, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "Data and pipelines are up to date." in second.stdout
    (dvc_repo / "prep.fail").touch()
    (dvc_repo / "prep.in").write_text("3")
    failed = subprocess.run(ganops, cwd=dvc_repo, capture_output=True, text=True, timeout=600)
    assert failed.returncode == 1 and "error: stage 'prep' failed" in failed.stderr
    assert "error: prep was told to fail" in failed.stderr
    assert "not started (their upstream did not finish): left, right, join" in failed.stderr


def test_stage_graph_orders_by_dvc_yaml_ranks_the_longest_path_first_and_skips_dvc_files():
    nodes = '"data/raw.dvc";\n"a";\n"b";\n"c";\n"d";\n'
    edges = '"data/raw.dvc" -> "a";\n"a" -> "b";\n"b" -> "c";\n"a" -> "d";\n'
    dot = "strict digraph {\n" + nodes + edges + "}\n"
    graph = StageGraph.from_dot(dot)
    assert graph.order() == ["a", "b", "c", "d"]  # data/raw.dvc (a `dvc add`ed folder) is not a stage
    assert graph.upstream["c"] == {"b"} and graph.upstream["a"] == set()
    assert [graph.depth[n] for n in "abcd"] == [3, 2, 1, 1]
    assert graph.closure(["c"]) == {"a", "b", "c"}
