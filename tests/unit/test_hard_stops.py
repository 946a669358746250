"""Hard stops leave no debris: a killed stage's MLflow run is ended by the next attempt, an unreachable
tracking server is one line, and a stopped retrain flow stops the DVC process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", **extra}


def test_a_killed_stage_run_is_ended_as_killed_by_the_next_attempt(tmp_path, monkeypatch):
    killed = textwrap.dedent(
        """
        import os, signal
        from ganops.tracking.runs import stage_run
        with stage_run("train_gan", "exp", {"a": 1}, {"variant": "dcgan"}) as run:
            print(run.info.run_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    from ganops.tracking import lineage

    done = subprocess.run(
        [sys.executable, "-c", killed],
        cwd=tmp_path,
        env=_env(tmp_path, **lineage.pipeline_env("killed-execution", "dvc repro @ killed", kind="dvc repro")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    stale = done.stdout.split()[0]

    import mlflow

    from ganops.tracking.runs import stage_run

    monkeypatch.chdir(tmp_path)
    uri = _env(tmp_path)["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # an earlier test in this process may have pointed mlflow elsewhere
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert client.get_run(stale).info.status == "RUNNING"  # what a kill -9 leaves behind
    parent = client.get_run(stale).data.tags["mlflow.parentRunId"]
    assert client.get_run(parent).info.status == "RUNNING"  # and its execution's parent run
    with stage_run("train_gan", "exp", {"a": 1}, {"variant": "seed_mlp"}):  # another variant: not its run
        pass
    assert client.get_run(stale).info.status == "RUNNING"
    with stage_run("train_gan", "exp", {"a": 1}, {"variant": "dcgan"}) as run:
        assert client.get_run(stale).info.status == "KILLED"
        assert client.get_run(parent).info.status == "KILLED"  # the killed execution ends with it
        assert client.get_run(run.info.run_id).info.status == "RUNNING"  # its own run is left alone
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_unreachable_tracking_server_is_one_line(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from ganops.tracking import runs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(RuntimeError) as info:
        runs.setup("exp", tmp_path)
    message = str(info.value)
    assert message.startswith(f"MLflow tracking server http://127.0.0.1:{port} did not answer (timeout ")
    assert "\n" not in message


def test_stopping_the_flow_process_stops_the_dvc_stage_it_runs(tmp_path):
    """SIGTERM to a process inside run_dvc: DVC and the stage's command (its own process group) stop."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([str(bin_dir / "dvc"), "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  slow:\n    cmd: sh -c 'echo $$ > stage.pid; exec sleep 600'\n    outs: [never.txt]\n"
    )
    runner = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from ganops.orchestration.dvc_cli import run_dvc, stop_on_signals
        stop_on_signals()
        try:
            run_dvc(["repro", "-s", "slow"], Path({str(tmp_path)!r}))
        except KeyboardInterrupt as exc:
            print("stopped:", exc, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", runner], stdout=subprocess.PIPE, text=True)
    pid_file = tmp_path / "stage.pid"
    try:
        while not pid_file.is_file() or not pid_file.read_text().strip():  # the stage is running
            assert proc.poll() is None, "the runner exited before the stage started"
            time.sleep(0.05)
        stage_pid = int(pid_file.read_text())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped: stopped by SIGTERM" in out
    assert _gone(stage_pid)  # run_dvc returned only after the group was stopped


def _gone(pid: int) -> bool:
    """No such process, or only its zombie entry waiting for init to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
