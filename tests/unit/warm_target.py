"""The command a test warm-start server runs in its children instead of the ganops CLI: it reports what
process it became (argv, cwd, env, umask, stdin) and, on request, waits for stdin to close."""

import json
import os
import sys


def main() -> None:
    args = sys.argv[1:]
    report = {"served_by": "warm_target", "pid": os.getpid(), "argv": args, "cwd": os.getcwd(),
              "marker": os.environ.get("WARM_TEST_MARKER"), "umask": oct(os.umask(0o022))}  # fmt: skip
    print(json.dumps(report), flush=True)
    if args[:1] == ["echo-stdin"]:
        print(sys.stdin.read().upper(), end="", flush=True)
    if args[:1] == ["block"]:
        sys.stdin.read()  # until the test closes our stdin, or a signal ends us
    print("to stderr", file=sys.stderr)
    sys.exit(int(args[-1]) if args and args[-1].isdigit() else 0)
