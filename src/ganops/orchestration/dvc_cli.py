"""`dvc ARGS` as a subprocess in its own process group: output captured, errors summarised, stoppable.

Shared by the Prefect retrain flow (pipeline/retrain.py) and `ganops repro` (orchestration/parallel.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
# Failures worth retrying: another DVC process holds DVC's own lock, the process was killed (OOM
# killer, preemption), a shared service hiccuped. A stage whose command exits 1 or 2 (ganops's user
# errors: bad params, bad input files) fails the same way every time and is not retried.
TRANSIENT_MARKERS = (
    "Unable to acquire lock",
    "database is locked",
    "Connection refused",
    "Connection reset",
    "Temporary failure in name resolution",
    "Resource temporarily unavailable",
)
KILLED_EXIT = re.compile(r"exited with (-\d+|137|143)\b")


class StageFailed(RuntimeError):
    """A DVC stage (or DVC itself) failed; the message carries the stage's own error lines."""

    def __init__(self, message: str, transient: bool = False, output: str = ""):
        super().__init__(message)
        self.transient = transient
        self.output = output  # everything DVC and the stage printed (stdout then stderr)


def env_with_bin(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment with this interpreter's bin folder first (`ganops`, `dvc`), and `extra`
    (e.g. `lineage.pipeline_env`: the stage runs it starts share one parent MLflow run)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1", **(extra or {})}


def dvc_executable() -> str:
    return str(BIN / "dvc") if (BIN / "dvc").exists() else "dvc"


def error_summary(stderr_lines: list[str], limit: int = 12) -> str:
    """The lines that say what went wrong: ganops `error:` lines, a traceback's last line, DVC's ERROR."""
    lines = [line.rstrip() for line in stderr_lines if line.strip()]
    picked = [line for line in lines if line.lower().startswith("error")]
    if not picked or all(line.startswith("ERROR: failed to reproduce") for line in picked):
        tail = [line for line in lines if not line.startswith("ERROR")][-3:]
        picked = tail + picked
    return "\n".join(picked[-limit:]) or "(no error output)"


# Runs DVC with PR_SET_PDEATHSIG = SIGTERM (Linux), so it stops when its driver dies, even by kill -9.
# An exec wrapper rather than Popen(preexec_fn=...), which is unsafe in a process with threads.
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL(None).prctl(1, signal.SIGTERM)\nexcept (OSError, AttributeError):\n    pass\n"
    "os.execvp(sys.argv[1], sys.argv[1:])"
)
RUNNING: set[subprocess.Popen] = set()  # the DVC processes this process started and waits on


def run_dvc(
    args: list[str],
    root: Path,
    log: Callable[[str], None] | None = None,
    what: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Run `dvc ARGS` in `root` (`env`: added to its environment), passing each output line to `log`;
    return (stdout, stderr) or raise StageFailed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", DIE_WITH_PARENT, dvc_executable(), *args],
        cwd=root,
        env=env_with_bin(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: DVC and the stage it runs stop together
    )
    RUNNING.add(proc)
    out: list[str] = []
    err: list[str] = []

    def pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            if log is not None and line.strip():
                log(line.rstrip())

    threads = [
        threading.Thread(target=pump, args=(s, sink), daemon=True)
        for s, sink in ((proc.stdout, out), (proc.stderr, err))
    ]
    for thread in threads:
        thread.start()
    try:
        code = proc.wait()
    except BaseException:  # the driver is being stopped (SIGTERM/SIGINT, Prefect cancel): stop DVC too
        stop_process_group(proc)
        raise
    finally:
        RUNNING.discard(proc)
    for thread in threads:
        thread.join()
    stdout, stderr = "".join(out), "".join(err)
    if code != 0:
        transient = code < 0 or bool(KILLED_EXIT.search(stderr)) or any(m in stderr for m in TRANSIENT_MARKERS)
        label = what or f"dvc {' '.join(args)}"
        raise StageFailed(f"{label} failed (exit {code}):\n{error_summary(err)}", transient, stdout + stderr)
    return stdout, stderr


def stop_process_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group of `proc` (DVC and its stage), SIGKILL it if still there after grace_s.

    DVC needs the grace period to release its lock; the stage's outputs stay as they were (atomic writes).
    """
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _raise_interrupt(signum, frame) -> None:
    for proc in list(RUNNING):  # whichever thread waits on it, DVC stops now
        stop_process_group(proc)
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def stop_on_signals() -> None:
    """SIGTERM, SIGHUP and SIGINT stop this driver like Ctrl-C, and the `dvc repro` processes it runs
    with it (their process groups), so no stage is orphaned. (kill -9 cannot be caught: the DVC child
    still gets SIGTERM from the kernel, see DIE_WITH_PARENT.)"""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _raise_interrupt)
