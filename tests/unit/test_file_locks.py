"""File locks: core.flock and the reader's turn on DVC's repo lock (core.dvc_lock).

A stage that read dvc.lock while another `dvc repro -s` rewrote it (two stages at a time) got half a
file (yaml ScannerError in the retrain flow). These tests hold DVC's lock the way zc.lockfile does
(an exclusive flock on .dvc/tmp/lock) and wait on events, not on a clock.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest

from ganops.core import dvc_lock
from ganops.core.flock import LockTimeout, flocked

FULL = """schema: '2.0'
stages:
  prepare:
    cmd: ganops prepare --out data/prepared
    outs:
    - path: data/prepared
      hash: md5
      md5: 0123456789abcdef0123456789abcdef.dir
      size: 10
      nfiles: 2
"""


def _dvc_project(tmp_path: Path) -> Path:
    (tmp_path / ".dvc" / "tmp").mkdir(parents=True)
    return tmp_path


def test_a_reader_waits_for_dvc_to_finish_writing_dvc_lock(tmp_path):
    root = _dvc_project(tmp_path)
    (root / "dvc.lock").write_text(FULL[: FULL.index("md5: ") + 9])  # DVC mid-write: a truncated md5
    blocked, result = threading.Event(), {}
    with open(root / dvc_lock.DVC_REPO_LOCK, "a+") as dvc_holds:
        fcntl.flock(dvc_holds, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what zc.lockfile does while DVC writes
        reader = threading.Thread(target=lambda: result.update(text=dvc_lock.lock_file_text(root, blocked.set)))
        reader.start()
        assert blocked.wait(60), "the reader did not wait for DVC's repo lock"
        (root / "dvc.lock").write_text(FULL)
        fcntl.flock(dvc_holds, fcntl.LOCK_UN)
    reader.join(60)
    assert result["text"] == FULL
    assert dvc_lock.locked_md5(root, "data/prepared") == "0123456789abcdef0123456789abcdef.dir"
    assert dvc_lock.locked_md5(root, "data/other") is None


def test_no_lock_file_yet_and_no_dvc_project_read_without_waiting(tmp_path):
    assert dvc_lock.locked_md5(_dvc_project(tmp_path / "a"), "data/prepared") is None
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dvc.lock").write_text(FULL)
    assert dvc_lock.locked_md5(plain, "data/prepared").endswith(".dir")
    assert not (plain / ".dvc").exists()  # reading never creates DVC's folders


def test_a_stuck_dvc_lock_is_a_clear_error(tmp_path, monkeypatch):
    root = _dvc_project(tmp_path)
    (root / "dvc.lock").write_text(FULL)
    monkeypatch.setattr(dvc_lock, "READ_WAIT_S", 0.0)
    with open(root / dvc_lock.DVC_REPO_LOCK, "a+") as dvc_holds:
        fcntl.flock(dvc_holds, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(dvc_lock.LockFileBusy, match=r"dvc\.lock could not be read.*\.dvc/tmp/lock"):
            dvc_lock.lock_file_text(root)


def test_shared_holders_coexist_and_an_exclusive_one_waits_for_them(tmp_path):
    path = tmp_path / "lock"
    with open(path, "a") as one, open(path, "a") as two, open(path, "a") as three:
        with flocked(one, shared=True), flocked(two, shared=True, wait_s=0.0):
            with pytest.raises(LockTimeout, match="stayed locked") as err, flocked(three, wait_s=0.0):
                pass
            assert err.value.waited >= 0.0
        with flocked(three, wait_s=0.0) as waited:  # both readers gone: free at once
            assert waited >= 0.0
