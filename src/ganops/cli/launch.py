"""The `ganops` command's entry point: hand the command to a warm server when one is there, else run it here.

Imports the standard library only, so that a launcher served warm costs milliseconds (see
`ganops.cli.warm` for the server and the guarantees). Without `GANOPS_WARM_SOCKET`, with a server that
is gone, or with one that refuses this launcher, the command runs in this process as it always did.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

from ganops.cli import warm


def _run_warm(path: str) -> int | None:
    """The command's exit code (negative: killed by that signal) when the server ran it; None to start cold."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:  # no server (any more): cold start
        sock.close()
        return None
    umask = os.umask(0)
    os.umask(umask)
    request = {
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "pid": os.getpid(),
        "sys_path0": sys.path[0],
        "signature": warm.import_signature(),
    }
    try:
        warm.send_message(sock, request, fds=warm.STD_FDS)
        started, _ = warm.recv_message(sock)
    except (OSError, ValueError):
        sock.close()
        return None
    if "pid" not in started:  # refused: this launcher would import other code than the server holds
        sock.close()
        return None
    child = started["pid"]

    def forward(signum, frame) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(child, signum)

    for sig in warm.FORWARDED:
        signal.signal(sig, forward)
    try:
        finished, _ = warm.recv_message(sock)
    except (OSError, ValueError):
        print("ganops: the warm-start server went away while running this command", file=sys.stderr)
        return 1
    return int(finished["exit"])


def _exit_like(code: int) -> None:
    if code >= 0:
        sys.exit(code)
    sys.stdout.flush()
    signal.signal(-code, signal.SIG_DFL)  # the command died of a signal: so does its launcher, for DVC to see
    os.kill(os.getpid(), -code)
    sys.exit(128 - code)  # a signal that does not end the process by default


def run_here() -> None:
    """The command in this process (what a warm child runs too)."""
    from ganops.cli.main import app

    app(prog_name="ganops")


def main() -> None:
    if (path := os.environ.get(warm.SOCKET_ENV)) and (code := _run_warm(path)) is not None:
        _exit_like(code)
    run_here()
