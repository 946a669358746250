"""How much faster this machine is than issue 13's slow reference box, measured on the same code.

Issue 13 timed a fresh clone of commit 6bbc5cb on a 2-core AMD EPYC without AVX-512 ("the slow box")
and gave its stage times from the MLflow runs. This script checks that commit out into a scratch
folder, installs it, runs those stages here one at a time as that run did (`dvc repro -s -f`), reads
the same MLflow run durations and prints the ratio stage by stage and in sum. The ratio of the sums
is the factor to scale this machine's `make run` by. Why not `train_throughput.py` alone: its plain
loop is not the pipeline's training stage (the issue's 870 img/s is the dcgan stage's own figure), so
dividing one by the other overstated the factor (2.0-2.3x on a box where the same stages ran 1.6x).

    python benchmarks/slow_box_scale.py [--workdir /tmp/slow-box-scale] [--isa avx2] [--make-run]

~8 min on 2 cores the first time (the checkout installs with pip), ~5 min after. `--make-run` then
times `make run` in a fresh clone of this checkout's HEAD (install included, under the same `--isa`)
and prints it scaled by the factor: issue 13's budget check in one command (~7 more minutes).

The slow box has no AVX-512. On a machine that has it, torch's and oneDNN's AVX-512 kernels speed some
stages up far more than others (the pipeline's channels_last convolutions more than 6bbc5cb's Pillow
augmentation), so the factor depends on which code is timed. `--isa avx2` caps torch (ATen), oneDNN and
MKL at AVX2 for the stages run here (and for `--make-run`'s run).

Needs the git history (a clone, not a shallow one) and the package index `make setup` uses.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMIT = "6bbc5cb"
# MLflow run durations (s) issue 13 measured for COMMIT on the slow box, in dvc.yaml order of the stages
# (the issue lists "train_gan 161 + 187 + 252 s" for the three variants; the sum is what is compared).
SLOW_BOX = {
    "train_evaluator": 48.0,
    "train_gan@seed_mlp": 161.0,
    "train_gan@dcgan": 187.0,
    "train_gan@wgan_gp": 252.0,
    "train_detector@cnn": 195.0,
}
FAKES = ["generate_fakes@seed_mlp", "generate_fakes@dcgan", "generate_fakes@wgan_gp"]  # the detector learns these
ORDER = ["prepare", "train_evaluator", "train_gan@seed_mlp", "train_gan@dcgan", "train_gan@wgan_gp", *FAKES]
ORDER += ["train_detector@cnn"]
SLOW_BOX_DCGAN_IMG_S = 870.0  # the issue: "dcgan w16 b32 ~ 870 img/s in the pipeline"
ROOT = Path(__file__).resolve().parents[1]
# The documented switches that keep each library's CPU dispatch at AVX2 (the slow box's instruction set).
ISA_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def sh(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, check=True, text=True, **kw)


def setup(workdir: Path) -> Path:
    """A checkout of COMMIT with its own .venv (reused when the folder already has one)."""
    if not (workdir / ".git").exists():
        if sh(["git", "cat-file", "-t", COMMIT], ROOT, capture_output=True).stdout.strip() != "commit":
            sys.exit(f"commit {COMMIT} is not in {ROOT}'s history: run this from a full (not shallow) clone")
        sh(["git", "clone", "-q", str(ROOT), str(workdir)], ROOT)
        sh(["git", "checkout", "-q", COMMIT], workdir)
    # The commit's own `make setup` (pip there): exactly how the run installed it.
    sh(["make", "setup"], workdir)
    if not (workdir / ".dvc").exists():
        sh([str(workdir / ".venv/bin/dvc"), "init", "-q"], workdir)
    return workdir / ".venv/bin"


def run_durations(db: Path) -> dict[str, float]:
    """The newest MLflow run of each timed stage: `stage@variant` -> seconds. 6bbc5cb names a stage's
    run by its variant (or stage) and tags the stage as `ganops.stage`."""
    query = (
        "select t.value, r.name, r.start_time, r.end_time from runs r join tags t on t.run_uuid = r.run_uuid"
        " where t.key = 'ganops.stage' and r.end_time is not null order by r.start_time"
    )
    with sqlite3.connect(db) as con:
        rows = con.execute(query).fetchall()
    names = {
        stage if stage == name else f"{stage}@{name.split('/')[-1]}": (end - start) / 1000
        for stage, name, start, end in rows
    }
    return {stage: names[stage] for stage in SLOW_BOX}


def time_make_run(workdir: Path, env: dict[str, str]) -> float:
    """Seconds of `make run` (install included) in a fresh clone of ROOT's HEAD beside workdir."""
    clone = workdir.with_name(f"{workdir.name}-head")
    shutil.rmtree(clone, ignore_errors=True)
    sh(["git", "clone", "-q", str(ROOT), str(clone)], ROOT)
    log_path = clone.with_name(f"{clone.name}.log")  # beside the clone: its work tree stays clean
    print(f"make run in {clone} (log: {log_path})", flush=True)
    start = time.monotonic()
    with open(log_path, "w") as log:
        sh(["make", "run"], clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "slow-box-scale")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native", help="cap the CPU kernels at AVX2")
    parser.add_argument("--make-run", action="store_true", help="then time HEAD's make run and scale it")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    bin_dir = setup(workdir)
    base = {**os.environ, **(ISA_AVX2 if args.isa == "avx2" else {})}  # what both runs see
    env = {**base, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # 6bbc5cb's .venv first
    img_s = None
    for stage in ORDER:  # one at a time, as 6bbc5cb's plain `dvc repro` ran them
        print(f"dvc repro -s -f {stage}", flush=True)
        out = sh(
            [str(bin_dir / "dvc"), "repro", "-s", "-f", stage],
            workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ).stdout
        if stage == "train_gan@dcgan":
            found = re.findall(r"\((\d+) img/s\)", out)
            img_s = float(found[-1]) if found else None
    here = run_durations(workdir / "mlflow.db")
    print(f"\n| stage ({COMMIT}) | slow box (s) | here (s) | ratio |\n|---|---:|---:|---:|")
    for stage, slow in SLOW_BOX.items():
        print(f"| {stage} | {slow:.0f} | {here[stage]:.1f} | {slow / here[stage]:.2f} |")
    total_slow, total_here = sum(SLOW_BOX.values()), sum(here[s] for s in SLOW_BOX)
    factor = total_slow / total_here
    print(f"| sum | {total_slow:.0f} | {total_here:.1f} | **{factor:.2f}** |")
    if img_s:
        print(f"dcgan in the pipeline: {img_s:.0f} img/s here, {SLOW_BOX_DCGAN_IMG_S:.0f} on the slow box: "
              f"{img_s / SLOW_BOX_DCGAN_IMG_S:.2f}x")  # fmt: skip
    if args.isa == "avx2":
        print("measured with the kernels capped at AVX2; time make run the same way:\n  "
              + " ".join(f"{k}={v}" for k, v in ISA_AVX2.items()) + " make run")  # fmt: skip
    if args.make_run:
        seconds = time_make_run(workdir, base)  # the clone's own .venv, not 6bbc5cb's
        print(f"make run of HEAD here: {seconds:.0f} s; x {factor:.2f} = {seconds * factor / 60:.1f} min on the "
              f"slow box (issue 13's budget: 15 min)")  # fmt: skip


if __name__ == "__main__":
    main()
