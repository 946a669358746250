"""Stage start-up, cold vs warm (ganops.cli.warm), side by side in one process.

Runs the same `ganops` command `--repeats` times each way, alternating, and prints the median wall time
of the whole process (launcher included) and the ratio. The default command, `train-gan NOSUCH`, does
what every stage does before its first line of work — imports the CLI, loads and checks params.yaml
(which imports torch and the architectures) — and then stops at the unknown variant (exit 2), so it
writes nothing. Run it in a checkout (it reads ./params.yaml):

    .venv/bin/python benchmarks/warm_start.py [--repeats 5] [-- COMMAND ARGS...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ganops.cli.warm import SOCKET_ENV, running
from ganops.orchestration.dvc_cli import env_with_bin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("command", nargs="*", default=["train-gan", "NOSUCH"])
    args = parser.parse_args()
    ganops = str(Path(sys.executable).parent / "ganops")
    env = env_with_bin()
    started = time.perf_counter()
    with running(env=env) as path:
        server_s = time.perf_counter() - started
        times: dict[str, list[float]] = {"cold": [], "warm": []}
        for _ in range(args.repeats):
            for mode, run_env in (("cold", env), ("warm", {**env, SOCKET_ENV: path})):
                start = time.perf_counter()
                subprocess.run([ganops, *args.command], env=run_env, capture_output=True, check=False)
                times[mode].append(time.perf_counter() - start)
    cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
    print(f"command: ganops {' '.join(args.command)}  ({args.repeats} runs each, {os.cpu_count()} CPUs)")
    print(f"cold start  {cold:6.2f} s  (median)")
    print(f"warm start  {warm:6.2f} s  (median; the server itself took {server_s:.1f} s to start, once)")
    print(f"ratio cold / warm: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
