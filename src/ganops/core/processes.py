"""Facts about processes from the OS: whether one still lives (stale-temp cleanup, stale-run ending) and when
it started (a reused pid is not mistaken; stage start-up time)."""

from __future__ import annotations

import os
from pathlib import Path

_launcher: int | None = None  # set in a stage forked by the warm-start server (ganops.cli.warm)


def stand_in_for(pid: int) -> None:
    """This process runs the command that process `pid` (a `ganops` launcher) handed to the warm server."""
    global _launcher
    _launcher = pid


def launcher_pid() -> int:
    """The pid DVC (or whoever) started for this command: this process's, or its warm launcher's."""
    return os.getpid() if _launcher is None else _launcher


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this machine (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return True


def start_ticks(pid: int) -> str:
    """The kernel's start time of `pid` (clock ticks since boot, /proc), so a reused pid is not mistaken for
    the process that had it; "" where /proc is not there."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_age(pid: int | None = None) -> float | None:
    """Seconds since process `pid` (default: this one) started; None where /proc is not there.

    Both ends come from the kernel's boot-time clock (/proc/uptime and the pid's start ticks), so a wall
    clock stepped or slewed since boot (NTP) does not skew it."""
    ticks = start_ticks(os.getpid() if pid is None else pid)
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    if not ticks:
        return None
    return max(0.0, uptime - int(ticks) / os.sysconf("SC_CLK_TCK"))
