"""`ganops timings`: each stage's latest run, its process start-up and wall time, from a real SQLite store."""

from __future__ import annotations

import subprocess
import sys

from ganops.core.processes import process_age
from ganops.tracking import runs as tracking
from ganops.tracking.timings import latest_stage_times, timings_markdown

EXPERIMENT = "ganops-timings-test"


def test_process_age_counts_from_the_process_start():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        child_age, my_age = process_age(child.pid), process_age()
    finally:
        child.communicate(b"")
    assert child_age is not None and my_age is not None
    assert 0.0 <= child_age <= my_age  # the child started after this process, from the same kernel clock
    assert process_age(child.pid) is None  # gone: no /proc entry


def test_latest_run_of_each_stage_with_start_up_and_the_chosen_variant_not_an_item(store_repo, monkeypatch):
    for address, tags in (("train_gan@dcgan", {"variant": "dcgan"}), ("train_gan@wgan_gp", {"variant": "wgan_gp"}),
                          ("register", {"variant": "dcgan"}), ("register_video", {"video_variant": "vgan"}),
                          ("train_gan@dcgan", {"variant": "dcgan"})):  # fmt: skip
        monkeypatch.setenv("DVC_STAGE", address)
        with tracking.stage_run(address.split("@")[0], EXPERIMENT, {"lr": 0.1}, tags):
            pass
    times = latest_stage_times(EXPERIMENT)
    assert [t.stage for t in times] == ["train_gan@wgan_gp", "register", "register_video", "train_gan@dcgan"]
    assert all(t.status == "FINISHED" and t.seconds is not None and t.seconds >= 0 for t in times)
    # in-process here, so "start-up" is this test process's age: what matters is that it is recorded
    assert all(t.startup is not None and t.startup >= 0 for t in times)
    table = timings_markdown(times)
    assert "| stage | status | process start-up (s) | wall time (s) |" in table
    assert "(slowest)" in table and table.rstrip().splitlines()[-1].startswith("| total of finished stages |")
    assert "`register_video` |" in table and "register_video@" not in table


def test_no_runs_yet_says_what_to_do(store_repo):
    assert "run `dvc repro` first" in timings_markdown(latest_stage_times("no-such-experiment"))
