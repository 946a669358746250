"""`ganops timings`: each stage's latest run, its process start-up and wall time, from a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ganops.core.processes import started_at
from ganops.tracking import runs as tracking
from ganops.tracking.timings import latest_stage_times, timings_markdown

EXPERIMENT = "ganops-timings-test"


@pytest.fixture
def repo(store_repo):
    return store_repo


def test_started_at_is_the_process_start():
    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        began = started_at(child.pid)
    finally:
        child.communicate(b"")
    after = time.time()
    assert began is not None and before - 1.0 <= began <= after + 1.0  # /proc counts in clock ticks
    assert started_at() <= before  # this process started before the child


def test_latest_run_of_each_stage_with_start_up_and_the_chosen_variant_not_an_item(repo, monkeypatch):
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


def test_no_runs_yet_says_what_to_do(repo):
    assert "run `dvc repro` first" in timings_markdown(latest_stage_times("no-such-experiment"))
