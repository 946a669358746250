"""Advisory file locks (`fcntl.flock`) taken with a bounded wait: the one way ganops waits on a lock file.

Used by the retrain lock (core.workspace_lock), the parent-run lock of concurrent stage starts
(tracking.lineage) and the reader's turn on DVC's own repo lock (core.dvc_lock). The kernel drops a
flock when its holder dies, so a crashed holder never leaves a stale lock. Written here rather than
taken from a library (filelock, portalocker): we need shared locks on a file another program
(DVC's zc.lockfile) locks exclusively, and a callback when the lock is first found held, so tests wait
on an event instead of a clock.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from typing import IO


class LockTimeout(RuntimeError):
    """The lock stayed held by someone else for longer than the caller would wait (`waited` seconds)."""

    def __init__(self, message: str, waited: float):
        super().__init__(message)
        self.waited = waited


@contextlib.contextmanager
def flocked(
    handle: IO,
    *,
    shared: bool = False,
    wait_s: float | None = None,
    poll_s: float = 0.05,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[float]:
    """Hold `flock` on the open file `handle` (shared or exclusive); yield the seconds spent waiting.

    `wait_s=None` waits as long as it takes; otherwise `LockTimeout` is raised after `wait_s` seconds.
    `on_wait` is called once, when the lock is first found held by another open file.
    """
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    start = time.monotonic()
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
                on_wait = None
            waited = time.monotonic() - start
            if wait_s is not None and waited >= wait_s:
                message = f"{handle.name} stayed locked for {waited:.0f}s (limit {wait_s:g}s)"
                raise LockTimeout(message, waited) from None
            left = poll_s if wait_s is None else max(min(poll_s, wait_s - waited), 0.001)
            time.sleep(left)
    try:
        yield time.monotonic() - start
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
