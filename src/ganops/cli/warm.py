"""Warm starts: one process imports torch, MLflow and the CLI once, and forks a ready child per stage.

Every stage is its own `ganops ...` process under DVC, and each one spent ~4.5 s of its life importing
torch (1.6 s), MLflow (1.7 s) and MLflow's SQL store (1.0 s) before its first line of work: ~2.5 min
of a `make run` and half of the tiny pipeline the tests reproduce. `ganops repro` (and
`ganops warm CMD`) start this server once; the `ganops` command (`ganops.cli.launch`) finds it through
`GANOPS_WARM_SOCKET` and hands it its argv, working directory, environment and stdin/stdout/stderr
(SCM_RIGHTS over a Unix socket, in a 0700 temp folder). The server forks, the child becomes that
command (same fds, cwd, env, argv, umask) and runs it; the server relays the child's exit status, and
the launcher exits with it (or dies of the same signal). Signals the launcher gets are passed on to the
child, and a child whose launcher is gone (kill -9) kills itself: DVC's view of the stage is unchanged.

The server only serves launchers that would have imported the same code: same interpreter, same
`sys.path` (after its first entry) and the same import-time environment (PYTHONPATH, thread counts,
...); anything else is refused and the launcher starts cold, as without a server. Nothing here runs a
torch operation or opens a store before the fork (OpenMP thread pools and SQLite connections do not
survive a fork); the children reseed NumPy's global generator like a fresh process would. The server
lives for one `ganops repro` / `ganops warm CMD`: the ganops modules it preloaded (the CLI, typed params,
tracking runs) are those of its start: edits to them while a pipeline runs take effect with the next run
(the stage modules themselves are imported fresh in each child).

Why written here: forkserver-style launchers (multiprocessing's forkserver, nailgun, Chromium's zygote)
serve their own workers, not an arbitrary CLI command started by another program (DVC's shell).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ganops.core import processes

SOCKET_ENV = "GANOPS_WARM_SOCKET"  # where the launcher finds the server (unset: every command starts cold)
ENTRY = "ganops.cli.launch:run_here"
# What every stage imports; the children share these modules' pages with the server (copy-on-write).
PRELOAD = (
    "numpy",
    "torch",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "pydantic",
    "torchmetrics.image.kid",  # KID in every evaluate stage: 1.7 s to import even with torch loaded
    "ganops.config.params",
    "ganops.tracking.runs",
    "ganops.cli.main",
)
# Read once at interpreter or library start (import paths, OpenMP/MKL pools, CUDA device list, preloads):
# a launcher whose values differ would not get the process it asked for, so it starts cold.
IMPORT_TIME_ENV = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS",
    "LD_PRELOAD", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES", "PYTORCH_CUDA_ALLOC_CONF",
)  # fmt: skip
HEADER = struct.Struct("!I")
STD_FDS = (0, 1, 2)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


# --- the request both ends agree on ---


def import_signature(environ: dict[str, str] | None = None) -> dict:
    """What decides which code a fresh `ganops` process would import."""
    environ = os.environ if environ is None else environ
    return {
        "interpreter": os.path.realpath(sys.executable),  # bin/python and bin/python3.11: the same one
        "prefix": sys.prefix,  # the venv
        "sys_path": sys.path[1:],  # [0] is the script's folder: the launcher's bin/ vs the server's -m
        "env": {k: environ.get(k) for k in IMPORT_TIME_ENV},
    }


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed the connection mid-message")
        data += chunk
    return data


def send_message(conn: socket.socket, message: dict, fds: tuple[int, ...] = ()) -> None:
    body = json.dumps(message).encode()
    socket.send_fds(conn, [HEADER.pack(len(body))], list(fds))  # the fds travel with the header
    conn.sendall(body)


def recv_message(conn: socket.socket, max_fds: int = 0) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, max_fds)
    if not header:
        raise ConnectionError("peer closed the connection")
    header += _recv_exact(conn, HEADER.size - len(header))
    (size,) = HEADER.unpack(header)
    return json.loads(_recv_exact(conn, size)), fds


# --- the server ---


def _refusal(request: dict, mine: dict) -> str | None:
    """Why a launcher cannot be served by a server whose `import_signature()` is `mine` (None: it can)."""
    theirs = request.get("signature", {})
    for key in ("interpreter", "prefix", "sys_path"):
        if theirs.get(key) != mine[key]:
            return f"different {key}"
    differing = sorted(k for k in IMPORT_TIME_ENV if theirs.get("env", {}).get(k) != mine["env"][k])
    return f"different {', '.join(differing)}" if differing else None


def _die_with_launcher(conn: socket.socket) -> None:
    """Block on the launcher's end of the connection: it never writes after its request, so EOF means
    the launcher is gone (killed, perhaps with -9) and this stage must not outlive it."""
    with contextlib.suppress(OSError):
        while conn.recv(1):
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def _become(request: dict, fds: list[int], conn: socket.socket) -> None:
    """In the forked child: turn into the process the launcher would have been."""
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    # first, so that a failure below is this command's (its exit code relayed), not a refusal that reruns it cold
    send_message(conn, {"pid": os.getpid()})
    threading.Thread(target=_die_with_launcher, args=(conn,), daemon=True, name="ganops-warm-watch").start()
    for target, fd in zip(STD_FDS, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    for stream in (sys.stdout, sys.stderr):  # the server's objects over the launcher's fds: lines as they come
        stream.reconfigure(line_buffering=True, write_through=True)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    processes.stand_in_for(request["pid"])  # its MLflow lineage and start-up time are the launcher's
    sys.argv = list(request["argv"])
    sys.path[0] = request["sys_path0"]
    if "numpy" in sys.modules:  # NumPy's legacy global generator was seeded once, in the server
        sys.modules["numpy"].random.seed()


class _Server:
    def __init__(self, path: Path, entry: Callable[[], object]):
        self.path, self.entry = path, entry
        self.pid = os.getpid()
        self.signature = import_signature()  # the server's environment does not change: once
        self.children: dict[int, socket.socket] = {}  # pid -> its launcher's connection
        self.stopping = False

    def serve(self) -> Callable[[], object] | None:
        """Accept launchers until SIGTERM/SIGHUP; returns only in a forked child: the command to run."""
        wake_r, wake_w = socket.socketpair()
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wakeup fd
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._stop)
        # Ctrl-C reaches the stages through their launchers (and the starter stops this server after)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)
            listener.listen(64)
            print("ready", flush=True)  # the starter waits for this line (an event, not a timer)
            with selectors.DefaultSelector() as selector:
                selector.register(listener, selectors.EVENT_READ)
                selector.register(wake_r, selectors.EVENT_READ)
                while not self.stopping:
                    for key, _ in selector.select():
                        if key.fileobj is wake_r:
                            with contextlib.suppress(BlockingIOError):
                                wake_r.recv(4096)
                            self._reap()
                        elif (job := self._accept(listener)) is not None:
                            for child_copy in (listener, wake_r, wake_w):
                                child_copy.close()
                            return job
            self._stop_children()
            return None
        finally:
            if os.getpid() == self.pid:
                with contextlib.suppress(OSError):
                    self.path.unlink()

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _accept(self, listener: socket.socket) -> Callable[[], object] | None:
        conn, _ = listener.accept()
        try:
            request, fds = recv_message(conn, max_fds=len(STD_FDS))
        except (OSError, ValueError) as exc:  # a launcher that died mid-request, or not a launcher
            print(f"warm: bad request: {exc}", file=sys.stderr, flush=True)
            conn.close()
            return None
        if len(fds) != len(STD_FDS) or (reason := _refusal(request, self.signature)) is not None:
            print(f"warm: refused {request.get('argv')}: {reason}", file=sys.stderr, flush=True)
            with contextlib.suppress(OSError):
                send_message(conn, {"refused": reason or "no stdin/stdout/stderr"})
            for fd in fds:
                os.close(fd)
            conn.close()
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            for other in self.children.values():
                other.close()
            _become(request, fds, conn)
            return self.entry
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        return None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._report(pid, status)

    def _stop_children(self) -> None:
        """Stopped while stages run (their driver is going down): they stop too, and their launchers hear."""
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self._report(pid, status)

    def _report(self, pid: int, status: int) -> None:
        """A reaped child's exit code (negative: its signal) to its launcher, which exits with it."""
        if (conn := self.children.pop(pid, None)) is not None:
            with contextlib.suppress(OSError):
                send_message(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def _load(spec: str) -> Callable[[], object]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ganops.cli.warm", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--entry", default=ENTRY, help="module:callable each child runs (default: the CLI)")
    parser.add_argument("--preload", default=",".join(PRELOAD), help="modules imported once, comma-separated")
    args = parser.parse_args(argv)
    for name in filter(None, args.preload.split(",")):
        importlib.import_module(name)
    entry = _load(args.entry)
    gc.freeze()  # what was imported stays out of the collector: children share its pages, not copy them
    job = _Server(args.socket, entry).serve()
    if job is not None:  # a forked child: run the command; its SystemExit ends this process as usual
        job()


# --- the starter ---


@contextlib.contextmanager
def running(env: dict[str, str] | None = None, entry: str = ENTRY, preload: tuple[str, ...] = PRELOAD) -> Iterator[str]:
    """A warm server for the duration; yields the socket path to put in `SOCKET_ENV` of the commands.

    `env` is the environment of the commands it will serve (their import-time variables must match).
    Raises RuntimeError with the server's last lines when it cannot start.
    """
    folder = Path(tempfile.mkdtemp(prefix="ganops-warm-", dir="/tmp" if len(tempfile.gettempdir()) > 60 else None))
    path = folder / "socket"  # a Unix socket path is limited to ~107 bytes: keep it short
    log = folder / "server.log"
    from ganops.orchestration.dvc_cli import DIE_WITH_PARENT  # SIGTERM when this process dies, even by kill -9

    cmd = [sys.executable, "-c", DIE_WITH_PARENT, sys.executable, "-m", "ganops.cli.warm", "--socket", str(path)]
    cmd += ["--entry", entry, "--preload", ",".join(preload)]
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            proc.wait()
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"the warm-start server did not start (exit {proc.returncode}): {tail}")
        yield str(path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def warm_env(extra: dict[str, str] | None) -> Iterator[dict[str, str]]:
    """For the duration, a server for `ganops` commands started with `extra` added to this process's
    environment (as `dvc_cli.run_dvc` starts DVC); yields `extra` plus its socket. None: no server, `{}`."""
    if extra is None:
        yield {}
        return
    from ganops.orchestration.dvc_cli import env_with_bin

    with running(env=env_with_bin(extra)) as socket_path:
        yield {**extra, SOCKET_ENV: socket_path}


if __name__ == "__main__":
    main()
