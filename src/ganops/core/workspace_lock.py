"""One retrain at a time per workspace: an exclusive `fcntl.flock` on a file inside `.dvc/tmp/`.

Taken by the Prefect retrain flow (pipeline/retrain.py) for a whole run and by `ganops rollback`
for its alias moves, so a manual rollback never interleaves with a flow's promotion step.

The lock file also records who holds it (pid, host, flow run, since) so that a second run that
cannot get the lock says exactly what it is waiting for. The kernel drops the lock when the holding
process dies, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ganops.core.flock import LockTimeout, flocked

LOCK_FILE = Path(".dvc/tmp/ganops-retrain.lock")  # git-ignored by DVC's own .dvc/.gitignore


class WorkspaceLocked(RuntimeError):
    """Another retrain run holds the workspace lock (and kept it for longer than we would wait)."""


def _holder(handle) -> str:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return "an unknown process"
    if not info:
        return "an unknown process"
    run = f", flow run {info['flow_run']}" if info.get("flow_run") else ""
    return f"pid {info.get('pid')} on {info.get('host')}{run} since {info.get('since')}"


@contextlib.contextmanager
def workspace_lock(
    root: Path,
    wait_s: float = 0.0,
    owner: str = "",
    poll_s: float = 0.5,
    hint: str = ", or raise lock_wait_s",
    on_wait: Callable[[], None] | None = None,
) -> Iterator[float]:
    """Hold the retrain lock of the workspace at `root`; yield the seconds spent waiting for it.

    Waits up to `wait_s` seconds for a run that holds it, then raises `WorkspaceLocked` naming the
    holder and since when it holds the lock (`hint` ends that message: what else the caller can do).
    `on_wait` is called once, when the lock is first found held (tests wait on it, not on a clock).
    """
    path = Path(root) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle, contextlib.ExitStack() as held:
        try:
            waited = held.enter_context(flocked(handle, wait_s=wait_s, poll_s=poll_s, on_wait=on_wait))
        except LockTimeout as exc:
            raise WorkspaceLocked(
                f"another run holds the workspace lock on {root} ({_holder(handle)}); waited "
                f"{exc.waited:.0f}s (limit {wait_s:g}s). Try again when it ends{hint}"
            ) from None
        try:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "flow_run": owner,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(info))
            handle.flush()
            yield waited
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
