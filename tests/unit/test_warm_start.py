"""Warm starts (ganops.cli.warm): a `ganops` launcher handed to the server becomes the same process a cold
start would have been (argv, cwd, env, umask, stdin/stdout/stderr, exit code), signals reach it, it dies
with its launcher, and a launcher the server cannot serve exactly starts cold."""

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ganops.cli import warm

HERE = Path(__file__).resolve().parent
GANOPS = Path(sys.executable).parent / "ganops"
DEADLINE_S = 60  # failure guards only: each wait below ends on an event


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="module")
def server(env):
    """A server whose children run tests/unit/warm_target.py; yields the launcher's environment."""
    with warm.running(env=env, entry="warm_target:main", preload=("json",)) as path:
        yield {**env, warm.SOCKET_ENV: path}


def _launch(args, env, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(GANOPS), *args], env=env, capture_output=True, text=True, timeout=DEADLINE_S, **kwargs)


def test_a_served_command_is_the_process_a_cold_start_would_be(server, tmp_path):
    result = _launch(["echo-stdin", "3"], {**server, "WARM_TEST_MARKER": "m1"}, cwd=tmp_path, input="hello\n")
    report = json.loads(result.stdout.splitlines()[0])
    assert report["served_by"] == "warm_target" and report["pid"] != os.getpid()
    assert report["argv"] == ["echo-stdin", "3"] and report["cwd"] == str(tmp_path)
    assert report["marker"] == "m1" and report["umask"] == oct(_umask())
    assert result.stdout.splitlines()[1] == "HELLO"  # the launcher's stdin, read by the child
    assert result.stderr == "to stderr\n" and result.returncode == 3


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_launcher_with_other_import_time_settings_starts_cold(server, tmp_path):
    result = _launch(["--version"], {**server, "OMP_NUM_THREADS": "7"}, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("ganops ")  # the real CLI, in the launcher


def test_no_server_any_more_starts_cold(env, tmp_path):
    result = _launch(["--version"], {**env, warm.SOCKET_ENV: str(tmp_path / "gone.sock")}, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("ganops ")


def _start_blocked(server):
    """A launcher whose child waits on its stdin; returns (launcher, child pid, pidfd of the child)."""
    proc = subprocess.Popen([str(GANOPS), "block"], env=server, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    child = json.loads(proc.stdout.readline())["pid"]  # the child runs: an event, not a timer
    return proc, child, os.pidfd_open(child)


def test_a_signal_to_the_launcher_reaches_the_child_and_the_launcher_dies_of_it(server):
    proc, child, pidfd = _start_blocked(server)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE_S) == -signal.SIGTERM  # DVC sees what a cold stage would show
    # the server relays the exit only after reaping the child: it is gone when the launcher is
    assert select.select([pidfd], [], [], 0)[0] == [pidfd]
    os.close(pidfd)
    proc.stdin.close()
    proc.stdout.close()


def test_a_child_whose_launcher_is_killed_dies_with_it(server):
    proc, child, pidfd = _start_blocked(server)
    proc.kill()  # SIGKILL: the launcher cannot pass anything on
    proc.wait(timeout=DEADLINE_S)
    assert select.select([pidfd], [], [], DEADLINE_S)[0] == [pidfd], f"child {child} outlived its launcher"
    os.close(pidfd)
    proc.stdin.close()
    proc.stdout.close()


def test_ganops_warm_runs_a_command_and_returns_its_code(env, tmp_path):
    script = "import os, sys; print(os.environ['" + warm.SOCKET_ENV + "']); sys.exit(4)"
    result = _launch(["warm", sys.executable, "-c", script], env, cwd=tmp_path)
    assert result.returncode == 4 and result.stdout.strip().endswith("socket")
    assert not Path(result.stdout.strip()).exists()  # the server and its folder are gone after the command
    missing = _launch(["warm"], {**env, "COLUMNS": "200"}, cwd=tmp_path)
    assert missing.returncode == 2 and "ganops warm dvc repro" in missing.stderr
